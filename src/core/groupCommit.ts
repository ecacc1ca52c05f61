/**
 * Group commit: requests for one key (an event, a payment provider) are collected while that
 * key's batches run, then decided together, one round trip and one commit per batch. An idle
 * key has no timer: the first request starts a batch at once, alone; requests arriving while
 * batches run wait and form the next batch, first come first served, at most `maxBatch`
 * members each and at most `inFlight` batches per key at a time. A key with nothing waiting
 * and nothing running is dropped, so an idle batcher holds no state.
 *
 * A batch that throws fails every member of that batch and no other; a batch may also fail
 * one member alone by answering `MemberFailure` in its place (a revoked token, an item that
 * failed when retried alone), while the others get their results.
 *
 * Where its users differ, an option says so:
 * - `parallelMin`: settling payments starts a batch beside a running one only once that many
 *   wait (a short queue goes whole in the next batch; its commit is not worth another).
 * - `distinct`: joins and moves count customers, not requests, toward `maxBatch`. A second
 *   join of a customer rides along in the batch (one entry answers both); a second move
 *   waits for a batch started after the first one's ended (not one running beside it),
 *   where it finds the first one's result.
 * - `gate`: race tests hold a key's batches back until their contenders have queued.
 * - `nextFirst`: holds and joins send their next batch before answering the finished one's
 *   members.
 * - `run`'s `latest`: joins and moves decide with the event copy of the key's latest arrival
 *   (which may still be waiting); holds take their batch's newest.
 * The in-flight limit is the caller's: holds and settles run a few per key (one on embedded
 * PGlite, which has one connection); joins two per event on PostgreSQL
 * (the second waits for the numbering lock in the database), moves one (a knob).
 *
 * `load(key)` says how deep a key's queue is and how long its batches take (smoothed), so
 * a caller can refuse a request that would wait longer than its client does (holds: see
 * holds/busy.ts). The batch time is measured on `now` (monotonic, ms; tests pass a manual
 * one).
 */
import { assert } from './errors.js';

/**
 * Test seam: holds a key's batches back, so that a race's contenders overlap by construction,
 * not by luck. Asked whenever a batch could start (an arrival, a batch ending with requests
 * waiting). Production passes none.
 */
export interface BatchGate {
  /**
   * True while the `queued` requests waiting for `key` must not start a batch; a gate that
   * lets them go other than on an arrival (a timeout, a resume) calls `wake`.
   */
  holds(key: string, queued: number, wake: () => void): boolean;
}

/** One member's own failure in a batch that otherwise succeeded: only it is rejected. */
export class MemberFailure {
  constructor(readonly error: unknown) {}
}

/** How members count toward `maxBatch` when several may name the same thing. */
export interface Distinct<T> {
  /** What a member names (a customer): members naming one thing count once. */
  by: (item: T) => string;
  /**
   * A later member naming something already in the batch: `'ride'` takes it along in the
   * same batch; `'wait'` leaves it for the next batch, ahead of later arrivals.
   */
  repeat: 'ride' | 'wait';
}

export interface GroupCommitOptions<T, R> {
  /**
   * Decides one batch of one key: one answer per item, in the items' order. Throwing rejects
   * every member of this batch with the error. `latest` answers the key's most recent
   * arrival so far, in this batch or waiting for a later one (the freshest copy of what the
   * requests share, such as their event).
   */
  run: (key: string, items: readonly T[], latest: () => T) =>
    Promise<readonly (R | MemberFailure)[]>;
  /** Most members (or distinct names, see `distinct`) per batch. */
  maxBatch: number;
  /** Most batches of one key running at once. */
  inFlight: number;
  /** A batch starts beside a running one only once this many wait (default 1). */
  parallelMin?: number;
  distinct?: Distinct<T>;
  gate?: BatchGate;
  /**
   * Frees a finished batch's slot, and starts the next batch, before its members are
   * answered (default: after). Answering runs each member's continuation first; for holds
   * (one batch in flight) that left the database idle while Node wrote the replies. Settles
   * keep the default: with four in flight and a start threshold, their checkouts measured
   * slower with it (two interleaved pairs, 129 / 159 and 127 / 215 checkouts/s).
   */
  nextFirst?: boolean;
  /** Monotonic milliseconds for `load` (default `performance.now`). */
  now?: () => number;
  /**
   * Told of every finished batch (thrown or not), before its members are answered: each
   * member's wait from its arrival to the batch's start, and the batch's run, ms on `now`.
   * For metrics; it must not throw.
   */
  observe?: (timing: BatchTiming) => void;
}

/** What one batch took (GroupCommitOptions.observe). */
export interface BatchTiming {
  /** Each member's wait for the batch to start, ms, in the members' order. */
  waitsMs: readonly number[];
  /** The batch's run, ms. */
  runMs: number;
}

/** How loaded one key is now (see GroupCommit.load). */
export interface KeyLoad {
  /** Members waiting for a batch (not counting those in running batches). */
  waiting: number;
  /** Batches running now. */
  running: number;
  /** How long the oldest waiting member has waited, ms (0 when none waits). */
  oldestWaitMs: number;
  /** The key's batch duration, smoothed over its recent batches, ms; 0 before any ended. */
  batchMs: number;
}

/** Weight of the newest batch in the smoothed batch duration. */
const batchMsWeight = 0.2;

interface Member<T, R> {
  item: T;
  /** When it was queued (`now`). */
  atMs: number;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

/** One key's waiting members, its number of batches running, and its latest arrival. */
interface KeyQueue<T, R> {
  waiting: Member<T, R>[];
  running: number;
  /** Names in running batches (`distinct` with `repeat: 'wait'` only; never in two). */
  runningNames: Set<string>;
  latest: T;
  /** Smoothed batch duration, ms (0 before the first batch ended). */
  batchMs: number;
}

/** Keyed group commit (see the module comment). */
export class GroupCommit<T, R> {
  private readonly keys = new Map<string, KeyQueue<T, R>>();
  private readonly now: () => number;

  constructor(private readonly options: GroupCommitOptions<T, R>) {
    assert(options.maxBatch >= 1 && options.inFlight >= 1, 'group commit limits positive');
    this.now = options.now ?? (() => performance.now());
  }

  /** The key's load now; undefined when it is idle (nothing waiting, nothing running). */
  load(key: string): KeyLoad | undefined {
    const queue = this.keys.get(key);
    if (queue === undefined) return undefined;
    const oldest = queue.waiting[0];
    return {
      waiting: queue.waiting.length, running: queue.running, batchMs: queue.batchMs,
      oldestWaitMs: oldest === undefined ? 0 : Math.max(0, this.now() - oldest.atMs),
    };
  }

  /** Queues `item` for `key`'s next batch; resolves with its answer once decided. */
  submit(key: string, item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      let queue = this.keys.get(key);
      if (queue === undefined) {
        queue = { waiting: [], running: 0, runningNames: new Set(), latest: item, batchMs: 0 };
        this.keys.set(key, queue);
      }
      queue.latest = item;
      queue.waiting.push({ item, atMs: this.now(), resolve, reject });
      this.pump(key, queue);
    });
  }

  /** Keys with requests waiting or batches running (idle keys are dropped). */
  get activeKeys(): number {
    return this.keys.size;
  }

  /** Starts batches while requests wait and the key may run another. */
  private pump(key: string, queue: KeyQueue<T, R>): void {
    if (queue.waiting.length === 0) return;
    const { gate, inFlight, parallelMin = 1 } = this.options;
    if (gate?.holds(key, queue.waiting.length, () => this.pump(key, queue)) === true) return;
    while (queue.waiting.length > 0 && queue.running < inFlight) {
      if (queue.running > 0 && queue.waiting.length < parallelMin) break;
      const batch = this.take(queue);
      // Everyone waiting repeats a name whose batch runs: they go once it ends.
      if (batch.length === 0) break;
      queue.running++;
      // Without nextFirst the slot is freed once the members' continuations have run.
      void this.run(key, queue, batch).finally(() => {
        if (this.options.nextFirst !== true) this.finished(key, queue);
      });
    }
  }

  /** A batch of `key` has been decided: its slot goes to the requests waiting, if any. */
  private finished(key: string, queue: KeyQueue<T, R>): void {
    queue.running--;
    if (queue.waiting.length > 0) this.pump(key, queue);
    else if (queue.running === 0 && this.keys.get(key) === queue) this.keys.delete(key);
  }

  /** The next batch, in arrival order. */
  private take(queue: KeyQueue<T, R>): Member<T, R>[] {
    const { maxBatch, distinct } = this.options;
    if (distinct === undefined) return queue.waiting.splice(0, maxBatch);
    const seen = new Set<string>();
    if (distinct.repeat === 'ride') {
      let count = 0;
      for (const member of queue.waiting) {
        const name = distinct.by(member.item);
        if (!seen.has(name)) {
          if (seen.size === maxBatch) break;
          seen.add(name);
        }
        count += 1;
      }
      return queue.waiting.splice(0, count);
    }
    // A repeat waits for the batch with its name to end, whether that batch is this one or
    // one running beside it: run together, the later request could be decided first.
    const batch: Member<T, R>[] = [];
    const rest: Member<T, R>[] = [];
    for (const member of queue.waiting) {
      const name = distinct.by(member.item);
      if (seen.has(name) || seen.size === maxBatch || queue.runningNames.has(name)) {
        rest.push(member);
      } else {
        seen.add(name);
        batch.push(member);
      }
    }
    queue.waiting = rest;
    for (const name of seen) queue.runningNames.add(name);
    return batch;
  }

  private async run(
    key: string, queue: KeyQueue<T, R>, batch: readonly Member<T, R>[],
  ): Promise<void> {
    let results: readonly (R | MemberFailure)[];
    const startedMs = this.now();
    try {
      results = await this.options.run(key, batch.map((member) => member.item),
        () => queue.latest);
      assert(results.length === batch.length, 'one answer per member of a batch');
    } catch (error) {
      this.endNames(queue, batch);
      this.measure(queue, startedMs, batch);
      if (this.options.nextFirst === true) this.finished(key, queue);
      for (const member of batch) member.reject(error);
      return;
    }
    this.endNames(queue, batch);
    this.measure(queue, startedMs, batch);
    if (this.options.nextFirst === true) this.finished(key, queue);
    batch.forEach((member, i) => {
      const result = results[i] as R | MemberFailure;
      if (result instanceof MemberFailure) member.reject(result.error);
      else member.resolve(result);
    });
  }

  /** The batch's names are decided: repeats of them may start (before `finished` pumps). */
  private endNames(queue: KeyQueue<T, R>, batch: readonly Member<T, R>[]): void {
    const { distinct } = this.options;
    if (distinct?.repeat !== 'wait') return;
    for (const member of batch) queue.runningNames.delete(distinct.by(member.item));
  }

  private measure(
    queue: KeyQueue<T, R>, startedMs: number, batch: readonly Member<T, R>[],
  ): void {
    const tookMs = Math.max(0, this.now() - startedMs);
    queue.batchMs = queue.batchMs === 0 ? tookMs
      : queue.batchMs + batchMsWeight * (tookMs - queue.batchMs);
    this.options.observe?.({
      waitsMs: batch.map((member) => Math.max(0, startedMs - member.atMs)), runMs: tookMs,
    });
  }
}
