/**
 * The group-commit batcher on its own, with batches that finish when the test says so: the
 * examples name each promise of the module comment; the property drives random arrivals and
 * batch endings against every option and checks order, limits and outcomes after each step.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GroupCommit, MemberFailure, type BatchGate, type Distinct } from './groupCommit.js';

/** A batch the test has not finished yet. */
interface Running {
  key: string;
  items: string[];
  finish: (results: readonly (string | MemberFailure)[]) => void;
  fail: (error: unknown) => void;
}

interface Options {
  maxBatch: number;
  inFlight: number;
  parallelMin?: number;
  distinct?: Distinct<string>;
  gate?: BatchGate;
  nextFirst?: boolean;
}

/**
 * A batcher whose batches wait for the test; items answer `<item>!` when finished.
 * `onStart` sees each batch as it starts, before it counts as running.
 */
function harness(options: Options, onStart?: (key: string, items: readonly string[]) => void) {
  const running: Running[] = [];
  const started: Running[] = [];
  const batcher = new GroupCommit<string, string>({
    ...options,
    run: (key, items) => new Promise((resolve, reject) => {
      onStart?.(key, items);
      const batch: Running = { key, items: [...items], finish: resolve, fail: reject };
      running.push(batch);
      started.push(batch);
    }),
  });
  /** Finishes the `i`th running batch (every item answered) and lets its follow-ups start. */
  async function finish(i = 0, results?: (string | MemberFailure)[]): Promise<void> {
    const [batch] = running.splice(i, 1);
    if (batch === undefined) throw new Error(`no running batch ${i}`);
    batch.finish(results ?? batch.items.map((item) => `${item}!`));
    await settled();
  }
  async function fail(i: number, error: unknown): Promise<void> {
    const [batch] = running.splice(i, 1);
    batch?.fail(error);
    await settled();
  }
  return { batcher, running, started, finish, fail };
}

/** Lets every pending promise callback run. */
const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Outcomes of submitted promises as they settle: `ok:<value>` or `err:<message>`. */
function track(promise: Promise<string>, outcomes: Map<string, string>, id: string): void {
  promise.then((value) => outcomes.set(id, `ok:${value}`),
    (error: unknown) => outcomes.set(id, `err:${(error as Error).message}`));
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('group commit', () => {
  it('tells its observer each member\'s wait for its batch and each batch\'s run', async () => {
    let nowMs = 0;
    const ends: (() => void)[] = [];
    const seen: { waitsMs: readonly number[]; runMs: number }[] = [];
    const batcher = new GroupCommit<string, string>({
      maxBatch: 4, inFlight: 1, now: () => nowMs, observe: (timing) => seen.push(timing),
      run: async (_key, items) => {
        await new Promise<void>((resolve) => ends.push(resolve));
        return items;
      },
    });
    const answers = [batcher.submit('e', 'a')];
    nowMs = 100;
    answers.push(batcher.submit('e', 'b'));
    nowMs = 250;
    answers.push(batcher.submit('e', 'c'));
    nowMs = 400; // the first batch (a, started at 0) ends; b and c start together at 400
    ends.shift()?.();
    await settled();
    nowMs = 1_000;
    ends.shift()?.();
    await settled();
    expect(await Promise.all(answers)).toEqual(['a', 'b', 'c']);
    expect(seen).toEqual([{ waitsMs: [0], runMs: 400 }, { waitsMs: [300, 150], runMs: 600 }]);
  });

  it('runs the first request at once, alone, with no timer', async () => {
    const timers = vi.spyOn(globalThis, 'setTimeout');
    const { batcher, started, finish } = harness({ maxBatch: 4, inFlight: 1 });
    const answer = batcher.submit('e1', 'a');
    expect(started.map((b) => b.items)).toEqual([['a']]);
    await finish();
    expect(await answer).toBe('a!');
    expect(timers).not.toHaveBeenCalled();
  });

  it('forms the next batch of those who arrived meanwhile, in order, at most maxBatch',
    async () => {
      const { batcher, started, finish } = harness({ maxBatch: 3, inFlight: 1 });
      const answers = ['a', 'b', 'c', 'd', 'e', 'f'].map((x) => batcher.submit('e1', x));
      expect(started.map((b) => b.items)).toEqual([['a']]);
      await finish();
      await finish();
      await finish();
      expect(started.map((b) => b.items)).toEqual([['a'], ['b', 'c', 'd'], ['e', 'f']]);
      expect(await Promise.all(answers)).toEqual(['a!', 'b!', 'c!', 'd!', 'e!', 'f!']);
    });

  it('with nextFirst, starts the next batch before a batch\'s members are answered',
    async () => {
      // A member's continuation (a hold's reply being written) must not keep the database
      // idle: by the time the first answer is seen, the batch of those who waited has started.
      const { batcher, started, finish } = harness({ maxBatch: 8, inFlight: 1, nextFirst: true });
      let seen: string[][] = [];
      const first = batcher.submit('e1', 'a').then(() => { seen = started.map((b) => b.items); });
      void batcher.submit('e1', 'b');
      void batcher.submit('e1', 'c');
      await finish();
      await first;
      expect(seen).toEqual([['a'], ['b', 'c']]);
    });

  it('with nextFirst, starts the next batch before a failed batch\'s members are answered',
    async () => {
      const { batcher, started, fail } = harness({ maxBatch: 8, inFlight: 1, nextFirst: true });
      let seen: string[][] = [];
      const first = batcher.submit('e1', 'a').catch(() => { seen = started.map((b) => b.items); });
      void batcher.submit('e1', 'b');
      await fail(0, new Error('boom'));
      await first;
      expect(seen).toEqual([['a'], ['b']]);
    });

  it('without nextFirst, answers a batch\'s members before the next batch starts', async () => {
    const { batcher, started, finish } = harness({ maxBatch: 8, inFlight: 1 });
    let seen: string[][] = [];
    const first = batcher.submit('e1', 'a').then(() => { seen = started.map((b) => b.items); });
    void batcher.submit('e1', 'b');
    await finish();
    await first;
    expect(seen).toEqual([['a']]);
    expect(started.map((b) => b.items)).toEqual([['a'], ['b']]);
  });

  it('runs at most inFlight batches of a key, and other keys beside them', async () => {
    const { batcher, running, finish } = harness({ maxBatch: 1, inFlight: 2 });
    for (const x of ['a', 'b', 'c']) void batcher.submit('e1', x);
    void batcher.submit('e2', 'z');
    expect(running.map((b) => `${b.key}:${b.items.join()}`)).toEqual(['e1:a', 'e1:b', 'e2:z']);
    await finish(0);
    expect(running.map((b) => `${b.key}:${b.items.join()}`)).toEqual(['e1:b', 'e2:z', 'e1:c']);
  });

  it('starts a batch beside a running one only once parallelMin wait', async () => {
    const { batcher, running, started, finish } =
      harness({ maxBatch: 8, inFlight: 4, parallelMin: 3 });
    void batcher.submit('p', 'a');
    void batcher.submit('p', 'b');
    void batcher.submit('p', 'c');
    expect(running.map((b) => b.items)).toEqual([['a']]);
    void batcher.submit('p', 'd');
    expect(running.map((b) => b.items)).toEqual([['a'], ['b', 'c', 'd']]);
    void batcher.submit('p', 'e');
    await finish(0);
    await finish(0);
    expect(started.map((b) => b.items)).toEqual([['a'], ['b', 'c', 'd'], ['e']]);
  });

  it('fails every member of a failed batch and no other', async () => {
    const { batcher, fail, finish } = harness({ maxBatch: 2, inFlight: 1 });
    const outcomes = new Map<string, string>();
    for (const x of ['a', 'b', 'c', 'd']) track(batcher.submit('e1', x), outcomes, x);
    await finish(); // a
    await fail(0, new Error('boom')); // b, c
    await finish(); // d
    expect(Object.fromEntries(outcomes)).toEqual(
      { a: 'ok:a!', b: 'err:boom', c: 'err:boom', d: 'ok:d!' });
  });

  it('fails one member alone when the batch answers MemberFailure for it', async () => {
    const { batcher, finish } = harness({ maxBatch: 4, inFlight: 1 });
    const outcomes = new Map<string, string>();
    track(batcher.submit('e1', 'a'), outcomes, 'a');
    for (const x of ['b', 'c']) track(batcher.submit('e1', x), outcomes, x);
    await finish();
    await finish(0, ['b!', new MemberFailure(new Error('revoked'))]);
    expect(Object.fromEntries(outcomes)).toEqual({ a: 'ok:a!', b: 'ok:b!', c: 'err:revoked' });
  });

  it('fails the whole batch when it answers the wrong number of results', async () => {
    const { batcher, finish } = harness({ maxBatch: 4, inFlight: 1 });
    const outcomes = new Map<string, string>();
    track(batcher.submit('e1', 'a'), outcomes, 'a');
    await finish(0, []);
    expect(outcomes.get('a')).toMatch(/^err:assertion failed: one answer per member/);
  });

  it('holds batches back while the gate says so and starts them when it wakes', async () => {
    let wake = (): void => undefined;
    const asked: [string, number][] = [];
    let open = false;
    const gate: BatchGate = {
      holds(key, queued, w) {
        asked.push([key, queued]);
        wake = w;
        return !open && queued < 3;
      },
    };
    const { batcher, started, finish } = harness({ maxBatch: 8, inFlight: 1, gate });
    void batcher.submit('e1', 'a');
    void batcher.submit('e1', 'b');
    expect(started).toHaveLength(0);
    void batcher.submit('e1', 'c');
    expect(started.map((b) => b.items)).toEqual([['a', 'b', 'c']]);
    expect(asked).toEqual([['e1', 1], ['e1', 2], ['e1', 3]]);
    void batcher.submit('e1', 'd');
    await finish();
    expect(started).toHaveLength(1); // one waits: held again when the batch ended
    open = true;
    wake();
    expect(started.map((b) => b.items)).toEqual([['a', 'b', 'c'], ['d']]);
    await finish();
    expect(batcher.activeKeys).toBe(0);
    wake(); // a stale wake of a dropped key changes nothing
    expect(started).toHaveLength(2);
  });

  it('drops a key once nothing waits and nothing runs', async () => {
    const { batcher, finish } = harness({ maxBatch: 1, inFlight: 2 });
    void batcher.submit('e1', 'a');
    void batcher.submit('e1', 'b');
    void batcher.submit('e2', 'c');
    expect(batcher.activeKeys).toBe(2);
    await finish(2);
    expect(batcher.activeKeys).toBe(1);
    await finish(0);
    expect(batcher.activeKeys).toBe(1);
    await finish(0);
    expect(batcher.activeKeys).toBe(0);
  });

  it('tells a batch the key\'s latest arrival, in the batch or still waiting', async () => {
    const seen: string[] = [];
    let finish = (): void => undefined;
    const batcher = new GroupCommit<string, string>({ maxBatch: 1, inFlight: 1,
      run: (_key, items, latest) => new Promise((resolve) => {
        seen.push(`${items.join()}<${latest()}`);
        finish = () => resolve(items);
      }) });
    void batcher.submit('e1', 'a');
    void batcher.submit('e1', 'b');
    void batcher.submit('e1', 'c');
    for (let i = 0; i < 3; i++) {
      finish();
      await settled();
    }
    expect(seen).toEqual(['a<a', 'b<c', 'c<c']);
  });

  it('counts distinct names: a repeat rides along or waits for the next batch', async () => {
    const byName: Distinct<string>['by'] = (item) => item.slice(0, 1);
    const ride = harness({ maxBatch: 2, inFlight: 1, distinct: { by: byName, repeat: 'ride' } });
    const wait = harness({ maxBatch: 2, inFlight: 1, distinct: { by: byName, repeat: 'wait' } });
    for (const { batcher, running, finish } of [ride, wait]) {
      for (const x of ['x0', 'a1', 'a2', 'b1', 'a3', 'c1', 'b2']) void batcher.submit('e', x);
      while (running.length > 0) await finish();
    }
    expect(ride.started.map((b) => b.items))
      .toEqual([['x0'], ['a1', 'a2', 'b1', 'a3'], ['c1', 'b2']]);
    expect(wait.started.map((b) => b.items))
      .toEqual([['x0'], ['a1', 'b1'], ['a2', 'c1'], ['a3', 'b2']]);
  });

  it('a repeat that waits never runs beside the batch with its name, whatever inFlight',
    async () => {
      const byName: Distinct<string>['by'] = (item) => item.slice(0, 1);
      const { batcher, running, started, finish } = harness({
        maxBatch: 4, inFlight: 2, distinct: { by: byName, repeat: 'wait' },
      });
      void batcher.submit('e', 'a1');
      // a2 repeats a1, which is running: it waits, and b1 goes beside a1 alone.
      void batcher.submit('e', 'a2');
      void batcher.submit('e', 'b1');
      expect(started.map((b) => b.items)).toEqual([['a1'], ['b1']]);
      // b1 finishing does not let a2 go while a1 still runs ...
      await finish(1);
      expect(started.map((b) => b.items)).toEqual([['a1'], ['b1']]);
      // ... a1 finishing does, ahead of later arrivals.
      void batcher.submit('e', 'c1');
      expect(started.map((b) => b.items)).toEqual([['a1'], ['b1'], ['c1']]);
      await finish(0);
      expect(started.map((b) => b.items)).toEqual([['a1'], ['b1'], ['c1'], ['a2']]);
      while (running.length > 0) await finish();
    });
});

describe('group commit, random arrivals and endings', () => {
  type Step =
    | { kind: 'submit'; key: number; name: number }
    | { kind: 'end'; pick: number; how: 'ok' | 'fail' | 'one-fails' };

  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ kind: fc.constant('submit' as const), key: fc.nat(1), name: fc.nat(3) }),
    fc.record({ kind: fc.constant('end' as const), pick: fc.nat(7),
      how: fc.constantFrom('ok' as const, 'fail' as const, 'one-fails' as const) }),
  );
  const options = fc.record({
    maxBatch: fc.integer({ min: 1, max: 4 }),
    inFlight: fc.integer({ min: 1, max: 3 }),
    parallelMin: fc.integer({ min: 1, max: 4 }),
    repeat: fc.constantFrom('none' as const, 'ride' as const, 'wait' as const),
  });

  it('keeps order, limits and outcomes, never stalls, and ends with no keys', async () => {
    await fc.assert(fc.asyncProperty(options, fc.array(step, { maxLength: 40 }),
      async ({ maxBatch, inFlight, parallelMin, repeat }, steps) => {
        const nameOf = (item: string) => item.split(':')[1] as string;
        const distinct = repeat === 'none' ? undefined : { by: nameOf, repeat };
        // The model: per key, items submitted and not yet in a batch, in arrival order.
        const waiting = new Map<string, string[]>();
        const runningOf = (key: string) => h.running.filter((b) => b.key === key).length;
        const namesRunning = (key: string) => new Set(h.running.filter((b) => b.key === key)
          .flatMap((b) => b.items.map(nameOf)));
        const expected = new Map<string, string>();
        const outcomes = new Map<string, string>();
        const problems: unknown[] = [];
        const checkStart = (key: string, items: readonly string[]) => {
          const queue = waiting.get(key) ?? [];
          const names = new Set(items.map(nameOf));
          expect(items.length).toBeGreaterThan(0);
          expect(repeat === 'none' ? items.length : names.size).toBeLessThanOrEqual(maxBatch);
          expect(runningOf(key)).toBeLessThan(inFlight);
          if (runningOf(key) > 0) expect(queue.length).toBeGreaterThanOrEqual(parallelMin);
          // In arrival order; a prefix unless a repeat waits; as large as allowed.
          const left = queue.filter((item) => !items.includes(item));
          expect(queue.filter((item) => items.includes(item))).toEqual(items);
          if (repeat !== 'wait') expect(queue.slice(0, items.length)).toEqual(items);
          const runningNames = namesRunning(key);
          for (const item of left) {
            const full = (repeat === 'none' ? items.length : names.size) === maxBatch;
            const repeats = names.has(nameOf(item)) || runningNames.has(nameOf(item));
            expect(full || (repeat === 'wait' && repeats)).toBe(true);
          }
          if (repeat === 'wait') {
            expect(names.size).toBe(items.length);
            // A repeat never runs beside the batch with its name.
            for (const name of names) expect(runningNames.has(name)).toBe(false);
          }
          waiting.set(key, left);
        };
        const h = harness({ maxBatch, inFlight, parallelMin,
          ...(distinct === undefined ? {} : { distinct }) }, (key, items) => {
          try {
            checkStart(key, items);
          } catch (problem) {
            problems.push(problem);
          }
        });
        const check = () => {
          if (problems.length > 0) throw problems[0];
          for (const [key, queue] of waiting) {
            if (queue.length === 0) continue;
            // Nothing waits unless a batch runs and the next may not start yet (with
            // repeats that wait: or everyone waiting repeats a name that runs).
            const n = runningOf(key);
            expect(n).toBeGreaterThan(0);
            const runningNames = namesRunning(key);
            const blocked = repeat === 'wait' &&
              queue.every((item) => runningNames.has(nameOf(item)));
            expect(n === inFlight || queue.length < parallelMin || blocked).toBe(true);
          }
        };
        let next = 0;
        const submit = (key: string, name: number) => {
          const item = `${next++}:${name}`;
          waiting.set(key, [...(waiting.get(key) ?? []), item]);
          track(h.batcher.submit(key, item), outcomes, item);
          check();
        };
        const end = async (pick: number, how: 'ok' | 'fail' | 'one-fails') => {
          const i = pick % h.running.length;
          const batch = h.running[i] as Running;
          if (how === 'fail') {
            for (const item of batch.items) expected.set(item, 'err:batch failed');
            await h.fail(i, new Error('batch failed'));
          } else {
            const results = batch.items.map((item, j): string | MemberFailure => {
              if (how === 'one-fails' && j === 0) {
                expected.set(item, 'err:member failed');
                return new MemberFailure(new Error('member failed'));
              }
              expected.set(item, `ok:${item}!`);
              return `${item}!`;
            });
            await h.finish(i, results);
          }
          check();
        };
        for (const s of steps) {
          if (s.kind === 'submit') submit(`k${s.key}`, s.name);
          else if (h.running.length > 0) await end(s.pick, s.how);
        }
        while (h.running.length > 0) await end(0, 'ok');
        expect(outcomes).toEqual(expected);
        expect(outcomes.size).toBe(next);
        expect(h.batcher.activeKeys).toBe(0);
      }), { numRuns: 300 });
  });
});
