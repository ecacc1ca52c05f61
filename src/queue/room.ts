/**
 * The waiting room as the HTTP layer and the admission duty use it: joins, a fan's view,
 * and the line status, with the coordination store as a fast copy of PostgreSQL.
 *
 * What is cached, and why losing it is harmless:
 * - `queue:members` (hash customer → number, or `p` while in the pre-queue; `l…:why` once
 *   left, so a poll says why without PostgreSQL: see memberValue): lets a
 *   re-join or a poll answer without PostgreSQL. A miss reads the entry from PostgreSQL
 *   and writes it back.
 * - Each node also keeps the places it has written or read (`limits.queueMemberMemoMs`,
 *   bounded), so a fan polling that node is answered from memory. A number never changes
 *   once given; what can is a fan leaving through another node, shown here at most that
 *   long after (their admission is never read from this memory, so nobody is admitted by
 *   it). A re-join still asks the members cache, so it answers `left` at once.
 * - `queue:status` (the last tick's LineStatus): every poll needs servedUpTo. A miss reads
 *   `queue_state` and writes it back only if still absent, so it cannot overwrite a newer
 *   tick. The admission tick rewrites it every tick anyway.
 * Numbers, servedUpTo and admissions live only in PostgreSQL, so a flush mid-queue loses
 * nothing: the next reads repopulate the cache and the line resumes where it was.
 * Cache failures are logged and bypassed; they never fail a join or a poll.
 */
import { loadEvent, type EventRecord } from '../catalog/events.js';
import type { AppContext } from '../context.js';
import { pinnedNowMs } from '../core/clock.js';
import { limits } from '../config/limits.js';
import { DomainError } from '../core/errors.js';
import { tokenVersions, TokenRevoked, type TokenCheck } from '../customers/tokenVersions.js';
import { findAdmission, readLineStatus } from './admission.js';
import { AdmissionCache, findAdmissions, releasedSince } from './admits.js';
import { LineFeed, ticksChannel } from './feed.js';
import { leaveLine, type LeaveReason } from './leave.js';
import { findEntry, JoinBatcher, type SeedSource } from './line.js';
import { etaFor } from './pace.js';
import { QueuePasses } from './pass.js';
import { newSeed } from './shuffle.js';
import { outlookFor } from './supply.js';
import {
  leftReasons, type Admission, type EntryRef, type LineStatus, type QueueView,
} from './types.js';

const membersTtlMs = 24 * 3600 * 1000;
// Joins, polls and stream opens all need the event; at on-sale they arrive by the thousand
// per second for one event, so each node keeps it for a second instead of reading it from
// PostgreSQL on every request. A cancellation is seen within that second.
const eventCacheMs = 1_000;
const eventCacheMax = 10_000;
const statusTtlMs = 10 * 60 * 1000;
const preQueueMark = 'p';
// A fan who left: `l`, the number (or the pre-queue mark), then `:` and why (types.ts
// LeftReason). A value without the reason (written before it was kept) still reads as left.
const leftMark = 'l';
const reasonMark = ':';

/** A status read from the cache or PostgreSQL, shared by the polls that asked meanwhile. */
interface StatusMemo {
  readAtMs: number;
  status: Promise<LineStatus>;
  settled?: LineStatus;
}

/** A line this node follows for its polls: its tick subscription, and when last asked. */
interface FollowedLine {
  usedAtMs: number;
  unlisten: Promise<(() => Promise<void>) | undefined>;
}

/** The later of two statuses of one line (by tick sequence). */
function newest(a: LineStatus, b: LineStatus | undefined): LineStatus {
  return b !== undefined && b.seq > a.seq ? b : a;
}

/** Drops a map's first-inserted entries until it holds at most `max`. */
function dropOldest<V>(map: Map<string, V>, max: number): void {
  while (map.size > max) {
    const oldest = map.keys().next().value;
    if (oldest === undefined) return;
    map.delete(oldest);
  }
}

/** The view of an event without a queue: everyone may shop. */
const openView: QueueView = {
  state: 'admitted', number: null, position: 0, etaSeconds: 0, servedUpTo: 0,
};

/** Seconds until `position` is served at `ratePerMinute`; null when there is no rate yet. */
export function etaSeconds(position: number, ratePerMinute: number): number | null {
  if (position <= 0) return 0;
  if (!(ratePerMinute > 0)) return null;
  return Math.ceil((position * 60) / ratePerMinute);
}

/** The waiting room of one node. Get it with `waitingRoom(ctx)`. */
export class WaitingRoom {
  readonly passes: QueuePasses;
  readonly feed: LineFeed;
  /** Admitted fans' admissions, so a poll or a stream shows the pass without a round trip. */
  readonly admits: AdmissionCache;
  private readonly batcher: JoinBatcher;
  private readonly events = new Map<string, { atMs: number; record: Promise<EventRecord> }>();
  private readonly statuses = new Map<string, StatusMemo>();
  private readonly followed = new Map<string, FollowedLine>();
  /**
   * Members-cache writes gathered in this turn of the event loop, per cache key and kind
   * (hashSet, or the join batches' hashSetAbsent under `<key> absent`).
   */
  private readonly memberWrites = new Map<string, {
    fields: Record<string, string>; written: Promise<void>;
  }>();
  /** Places this node wrote or read lately, by `<eventId> <customerId>`. */
  private readonly places = new Map<string, { entry: EntryRef; atMs: number }>();
  private sweptAtMs = 0;

  /** The database, for watchers that refresh an entry after the draw. */
  readonly db: AppContext['db'];

  constructor(private readonly ctx: AppContext, seeds: SeedSource = newSeed) {
    this.db = ctx.db;
    this.passes = new QueuePasses(ctx.secrets.secret);
    this.feed = new LineFeed(ctx.coord, ctx.logger);
    this.admits = new AdmissionCache(ctx.coord, ctx.logger);
    this.batcher = new JoinBatcher(ctx.db, ctx.clock, seeds);
  }

  /** The event, read at most once a second per node (concurrent callers share the read). */
  async event(eventId: string): Promise<EventRecord> {
    const nowMs = this.ctx.clock.nowMs();
    const hit = this.events.get(eventId);
    if (hit !== undefined && nowMs - hit.atMs < eventCacheMs && nowMs >= hit.atMs) {
      return await hit.record;
    }
    const record = loadEvent(this.ctx.db, eventId);
    this.events.delete(eventId);
    this.events.set(eventId, { atMs: nowMs, record });
    if (this.events.size > eventCacheMax) {
      const oldest = this.events.keys().next().value;
      if (oldest !== undefined) this.events.delete(oldest);
    }
    // Failures (unknown event, database blip) are not remembered.
    record.catch(() => {
      if (this.events.get(eventId)?.record === record) this.events.delete(eventId);
    });
    return await record;
  }

  /** True when the customer already has an entry (answers from the cache when it can). */
  async isMember(eventId: string, customerId: string): Promise<boolean> {
    return (await this.entry(eventId, customerId)) !== undefined;
  }

  /**
   * Joins the line (idempotent) and returns the fan's view and whether they are new. With
   * an unchecked `token` (customerAuth deferVersion), a newcomer's token version is compared
   * in the join batch's transaction (TokenRevoked: nothing joined); every other answer
   * compares it first.
   */
  async join(
    event: EventRecord, customerId: string, token?: TokenCheck,
  ): Promise<{ view: QueueView; created: boolean }> {
    assertJoinable(event, this.ctx.clock.nowMs());
    const versions = tokenVersions(this.ctx);
    if (!event.queue.enabled) {
      await versions.checkPending(customerId, token);
      return { view: openView, created: false };
    }
    const known = await this.cachedEntry(event.eventId, customerId);
    if (known !== undefined) {
      this.keepPlace(event.eventId, known);
      await versions.checkPending(customerId, token);
      return { view: await this.view(event, customerId, known), created: false };
    }
    // Not in the cache: a newcomer, or a known fan whose entry the cache lost. Either way
    // the group-committed batch answers (it returns an existing entry as it stands), so a
    // miss costs a share of one batch, not a lookup of its own before it; the batch also
    // compares an unchecked token version (no read of its own either).
    const pending = token === undefined || token.checked ? undefined : token;
    const startedAtMs = this.ctx.clock.nowMs();
    let outcome;
    try {
      outcome = await this.batcher.join(event, customerId, pending?.version);
    } catch (error) {
      if (error instanceof TokenRevoked && error.currentVersion !== undefined) {
        versions.learn(customerId, error.currentVersion, startedAtMs);
      }
      throw error;
    }
    if (pending !== undefined) {
      // The batch found the token current: its version is the customer's version.
      pending.checked = true;
      versions.learn(customerId, pending.version, startedAtMs);
    }
    // Not awaited: the entry is committed, and the write only fills fields the cache lacks,
    // so landing after a leave's (or any newer) write never replaces it (see rememberJoined).
    this.rememberJoined(event.eventId, outcome);
    return { view: await this.view(event, customerId, outcome), created: outcome.created };
  }

  /**
   * True only when this node's memory alone says the fan is still waiting: a place it
   * holds, beyond the served-up-to of the latest line status it holds (or in the pre-queue
   * before the draw). No round trip. Anything unknown or no longer fresh, a fan
   * the line has reached, a fan who left or a sold-out line answers false, so load
   * shedding (http/shed.ts) never turns away an admitted fan's poll by this.
   */
  waitingInMemory(eventId: string, customerId: string): boolean {
    const entry = this.keptPlace(eventId, customerId);
    if (entry === undefined || entry.left === true) return false;
    // Only a status a poll itself would answer from (status()'s freshness rules): a stale
    // served-up-to could show an admitted fan as waiting.
    const nowMs = this.ctx.clock.nowMs();
    const memo = this.statuses.get(eventId);
    const settled = memo !== undefined && nowMs >= memo.readAtMs &&
      nowMs - memo.readAtMs < limits.queueStatusMemoMs ? memo.settled : undefined;
    const heard = this.feed.latest(eventId);
    const fromFeed = heard !== undefined && nowMs - heard.atMs <= limits.queueStatusFeedStaleMs
      ? heard : undefined;
    const status = settled === undefined ? fromFeed
      : fromFeed === undefined ? settled : newest(settled, fromFeed);
    if (status === undefined || status.soldOut) return false;
    if (entry.number === null) return !status.drawn;
    return entry.number > status.servedUpTo;
  }

  /**
   * The fan's view now. Reading it changes nothing: an open tab is not a shopper. An
   * admitted fan claims the slot by placing a first hold with the pass (the hold gate),
   * within the claim grace, or the slot goes to the next fan.
   */
  async view(event: EventRecord, customerId: string, known?: EntryRef): Promise<QueueView> {
    if (!event.queue.enabled) return openView;
    const status = await this.status(event);
    let entry = known ?? (await this.entry(event.eventId, customerId));
    if (entry === undefined) {
      throw new DomainError('not_found', 'you are not in this event\'s queue; join it first');
    }
    if (entry.number === null && status.drawn) {
      entry = await findEntry(this.ctx.db, event.eventId, customerId) ?? entry;
      await this.remember(event.eventId, entry);
    }
    return await this.viewAt(event, entry, status);
  }

  /**
   * The view for a known entry at a given status; reads PostgreSQL only once the fan's
   * number has been reached (to fetch the admission, read-only). A waiting fan is told the
   * tickets left and their outlook; a time is promised only when the outlook is open.
   */
  async viewAt(event: EventRecord, entry: EntryRef, status: LineStatus): Promise<QueueView> {
    const { servedUpTo, supply } = status;
    const together = supply?.shape?.together;
    const tickets = supply === undefined ? {} : {
      tickets: {
        available: supply.available, inCarts: supply.held,
        ...(together === undefined ? {} : { together }),
      },
    };
    const base = { number: entry.number, servedUpTo, ...tickets };
    if (entry.left === true) return await this.leftAt(event, entry, base);
    if (status.soldOut) {
      return {
        ...base, state: 'sold_out', position: null, etaSeconds: null, outlook: 'sold_out',
        waitlistUrl: waitlistUrl(event.eventId),
      };
    }
    if (entry.number === null) {
      return { ...base, state: 'pre_queue', position: null, etaSeconds: null };
    }
    if (entry.number > servedUpTo) {
      const position = entry.number - servedUpTo;
      const eta = this.eta(position, status);
      if (supply === undefined) return { ...base, state: 'waiting', position, etaSeconds: eta };
      const outlook = outlookFor(supply, position, false);
      return {
        ...base, state: 'waiting', position, etaSeconds: outlook === 'open' ? eta : null, outlook,
        ...(outlook === 'open' ? {} : { waitlistUrl: waitlistUrl(event.eventId) }),
      };
    }
    const admission = await this.admission(event.eventId, entry.customerId);
    if (admission === undefined) {
      // Passed over because they left (on another tab, say), or servedUpTo came from a
      // cache newer than our read and the admission is being committed.
      const fresh = await findEntry(this.ctx.db, event.eventId, entry.customerId);
      if (fresh?.left === true) {
        await this.remember(event.eventId, fresh);
        return await this.leftAt(event, fresh, base);
      }
      return { ...base, state: 'waiting', position: 1, etaSeconds: 0 };
    }
    return this.admittedView(event, admission, base);
  }

  /**
   * The view of a fan out of the line, with why. The reason comes with the entry from the
   * caches; only an entry that lacks it (a join batch's reply, an old cache value) reads it,
   * once: the entry is remembered with it.
   */
  private async leftAt(
    event: EventRecord, entry: EntryRef,
    base: Pick<QueueView, 'number' | 'servedUpTo' | 'tickets'>,
  ): Promise<QueueView> {
    let reason = entry.leftReason;
    if (reason === undefined) {
      const fresh = await findEntry(this.ctx.db, event.eventId, entry.customerId);
      reason = fresh?.leftReason ?? 'left';
      if (fresh?.left === true) await this.remember(event.eventId, fresh);
    }
    return { ...base, state: 'left', position: null, etaSeconds: null, leftReason: reason };
  }

  /**
   * The fan's admission: from the admissions cache when it may answer (admits.ts), else
   * read from PostgreSQL (by its clock) and cached.
   */
  private async admission(eventId: string, customerId: string): Promise<Admission | undefined> {
    const readAtMs = this.ctx.clock.nowMs();
    const cached = await this.admits.get(eventId, customerId, readAtMs);
    if (cached !== undefined) return cached;
    const found = await findAdmission(
      this.ctx.db, eventId, customerId, pinnedNowMs(this.ctx.clock),
    );
    if (found !== undefined) await this.admits.put(eventId, [found], readAtMs);
    return found;
  }

  /**
   * Caches the passes a tick has just committed, before its broadcast moves their fans, so
   * each of them finds the pass without a round trip: one read for the whole tick, on the
   * node that ran it. A failure only means their first poll reads PostgreSQL.
   */
  async rememberAdmitted(eventId: string, customerIds: readonly string[]): Promise<void> {
    if (customerIds.length === 0) return;
    const readAtMs = this.ctx.clock.nowMs();
    try {
      const rows = await findAdmissions(
        this.ctx.db, eventId, customerIds, pinnedNowMs(this.ctx.clock),
      );
      await this.admits.put(eventId, rows, readAtMs);
    } catch (error) {
      this.ctx.logger.warn({ err: error, eventId }, 'admitted passes not cached; polls read them');
    }
  }

  /**
   * After a tick: forgets the cached passes of slots freed since `sinceMs` (database clock)
   * wherever they were freed, so their fans see it at the next poll. Best effort: the
   * cache's own bound still applies when this fails.
   */
  async forgetReleased(eventId: string, sinceMs: number): Promise<void> {
    try {
      await this.admits.forget(eventId, await releasedSince(this.ctx.db, eventId, sinceMs));
    } catch (error) {
      this.ctx.logger.warn({ err: error, eventId }, 'freed passes not forgotten; they age out');
    }
  }

  /**
   * The fan's ETA: from the line's pace (pace.ts: the limit that binds now, smoothed
   * throughput, admission on ticks) as of the time since that tick; lines ticked before
   * the pace was kept fall back to the measured rate.
   */
  private eta(position: number, status: LineStatus): number | null {
    if (status.pace === undefined) return etaSeconds(position, status.ratePerMinute);
    return etaFor(position, status.pace, this.ctx.clock.nowMs() - status.atMs);
  }

  /**
   * Takes the fan out of the line (DELETE …/queue/me), giving back a live pass, and returns
   * their view afterwards (`left`).
   */
  async leave(
    event: EventRecord, customerId: string, reason: LeaveReason = 'left',
  ): Promise<QueueView> {
    if (!event.queue.enabled) {
      throw new DomainError('not_found', 'this event has no queue to leave');
    }
    const { entry } = await leaveLine(
      this.ctx.db, event.eventId, customerId, reason, pinnedNowMs(this.ctx.clock),
    );
    return await this.afterLeaving(event, entry);
  }

  /**
   * Once a fan's leaving is committed (here, or by a batch of moves to the waitlist): the
   * node's cache forgets their place and pass, and their view (`left`) is returned.
   */
  async afterLeaving(event: EventRecord, entry: EntryRef): Promise<QueueView> {
    await this.forgetLeavers(event, [entry]);
    return await this.leftView(event, entry);
  }

  /**
   * The cache part of `afterLeaving` for a whole batch of leavers (moves to the waitlist):
   * one write of their places and one of their passes, not one per fan.
   */
  async forgetLeavers(event: EventRecord, entries: readonly EntryRef[]): Promise<void> {
    if (entries.length === 0) return;
    await this.remember(event.eventId, ...entries);
    await this.admits.forget(event.eventId, entries.map((entry) => entry.customerId));
  }

  /** The view of a fan whose leaving is committed and forgotten (`left`). */
  async leftView(event: EventRecord, entry: EntryRef): Promise<QueueView> {
    return await this.viewAt(event, entry, await this.status(event));
  }

  private admittedView(
    event: EventRecord, admission: Admission,
    base: Pick<QueueView, 'number' | 'servedUpTo' | 'tickets'>,
  ): QueueView {
    if (!admission.live) {
      // A slot the fan's own order freed: they bought, and the client should say so.
      const bought = admission.releaseReason === 'order'
        ? { leftReason: 'purchased' as const } : {};
      return { ...base, state: 'expired', position: 0, etaSeconds: null, ...bought };
    }
    const pass = this.passes.sign({
      eventId: event.eventId, customerId: admission.customerId, passId: admission.passId,
      number: admission.number, expiresAtMs: admission.expiresAtMs,
    });
    const unclaimed = admission.claimedAtMs === null;
    return {
      ...base, state: 'admitted', position: 0, etaSeconds: 0, pass,
      passExpiresAt: new Date(admission.expiresAtMs).toISOString(),
      ...(unclaimed ? { claimBy: new Date(admission.claimByMs).toISOString() } : {}),
    };
  }

  /**
   * The line's latest status, from this node's memory when it can: the last tick heard on
   * the line's channel (which this node follows once anyone polls it), while that tick is
   * recent; else a copy read at most `limits.queueStatusMemoMs` ago; else the cache, else
   * PostgreSQL (concurrent readers share one read). Never older than what the node has
   * already shown: the newest of what it holds wins.
   */
  async status(event: EventRecord): Promise<LineStatus> {
    const { eventId } = event;
    const nowMs = this.ctx.clock.nowMs();
    this.follow(eventId, nowMs);
    const fromFeed = this.feed.latest(eventId);
    const memo = this.statuses.get(eventId);
    if (fromFeed !== undefined && nowMs - fromFeed.atMs <= limits.queueStatusFeedStaleMs) {
      return memo?.settled === undefined ? fromFeed : newest(fromFeed, memo.settled);
    }
    if (memo !== undefined && nowMs >= memo.readAtMs &&
        nowMs - memo.readAtMs < limits.queueStatusMemoMs) {
      return newest(await memo.status, this.feed.latest(eventId));
    }
    const fresh: StatusMemo = { readAtMs: nowMs, status: this.readStatus(event) };
    this.statuses.delete(eventId);
    this.statuses.set(eventId, fresh);
    dropOldest(this.statuses, limits.queueFollowedLinesMax);
    fresh.status.then((status) => { fresh.settled = status; }, () => {
      if (this.statuses.get(eventId) === fresh) this.statuses.delete(eventId);
    });
    return newest(await fresh.status, this.feed.latest(eventId));
  }

  /**
   * Subscribes this node to the line's ticks on behalf of polls and joins (one subscription
   * per line per node, as the stream's), so each tick lands in memory and a poll reads
   * nothing. Lines nobody asked about for `limits.queueFollowIdleMs` are let go.
   */
  private follow(eventId: string, nowMs: number): void {
    const known = this.followed.get(eventId);
    if (known !== undefined) {
      known.usedAtMs = nowMs;
      return;
    }
    const unlisten = this.feed.follow(eventId).catch((error: unknown) => {
      this.ctx.logger.warn({ err: error, eventId }, 'queue ticks unavailable; polls read them');
      if (this.followed.get(eventId)?.unlisten === unlisten) this.followed.delete(eventId);
      return undefined;
    });
    this.followed.set(eventId, { usedAtMs: nowMs, unlisten });
    if (this.followed.size > limits.queueFollowedLinesMax ||
        nowMs - this.sweptAtMs > limits.queueFollowIdleMs) {
      this.sweptAtMs = nowMs;
      this.sweep(nowMs);
    }
  }

  private sweep(nowMs: number): void {
    const idle = [...this.followed].filter(([, line]) =>
      nowMs - line.usedAtMs > limits.queueFollowIdleMs || nowMs < line.usedAtMs);
    const over = this.followed.size - idle.length - limits.queueFollowedLinesMax;
    const oldest = over > 0
      ? [...this.followed].filter((entry) => !idle.includes(entry))
        .sort(([, a], [, b]) => a.usedAtMs - b.usedAtMs).slice(0, over)
      : [];
    for (const [eventId, line] of [...idle, ...oldest]) {
      this.followed.delete(eventId);
      void line.unlisten.then((stop) => stop?.());
    }
  }

  /** Stops following lines (the app is closing); streams hold their own subscriptions. */
  async stopFollowing(): Promise<void> {
    const lines = [...this.followed.values()];
    this.followed.clear();
    this.statuses.clear();
    await Promise.all(lines.map(async (line) => (await line.unlisten)?.()));
  }

  /** The status from the cache, else PostgreSQL (and then cached if still absent). */
  private async readStatus(event: EventRecord): Promise<LineStatus> {
    const key = this.ctx.coord.keys.event(event.eventId, 'queue:status');
    const cached = await this.cacheRead(() => this.ctx.coord.get(key));
    if (cached) {
      const parsed = parseStatus(cached);
      if (parsed !== undefined) return parsed;
    }
    const status = await readLineStatus(this.ctx.db, event, this.ctx.clock.nowMs());
    // Only if still absent: a tick may have written a newer status meanwhile.
    await this.cacheWrite(() => this.ctx.coord.set(key, JSON.stringify(status), {
      ttlMs: statusTtlMs, onlyIfAbsent: true,
    }));
    return status;
  }

  /** Caches and broadcasts a tick's status: the one message that moves every fan. */
  async publish(status: LineStatus): Promise<void> {
    const { coord } = this.ctx;
    const message = JSON.stringify(status);
    const key = coord.keys.event(status.eventId, 'queue:status');
    await this.cacheWrite(() => coord.set(key, message, { ttlMs: statusTtlMs }));
    // This node's polls see the tick at once; other nodes when the message reaches them.
    this.statuses.delete(status.eventId);
    this.statuses.set(status.eventId, {
      readAtMs: this.ctx.clock.nowMs(), status: Promise.resolve(status), settled: status,
    });
    dropOldest(this.statuses, limits.queueFollowedLinesMax);
    await coord.publish(ticksChannel(coord, status.eventId), message);
  }

  /**
   * Remembers numbers in the members cache (after they are committed). Writes asked for in
   * the same turn of the event loop go together as one write per line: a join batch's fans
   * all resume in one turn, so the batch costs one cache write, not one per fan. Fields are
   * applied in the order asked (a later entry of a customer wins), and a write asked for
   * after one has been sent goes in the next, sent after it on the same connection.
   */
  async remember(eventId: string, ...entries: EntryRef[]): Promise<void> {
    await this.writeMembers(eventId, entries, false);
  }

  /**
   * Remembers what a join batch answered (committed), without the caller waiting for the
   * write: it only fills fields the cache lacks (hashSetAbsent), so however late it lands,
   * it never replaces a newer mark, such as a leave written by another node after the
   * batch committed. A fan whose field is still missing meanwhile is read from PostgreSQL
   * once (entry()), as after any cache miss. Grouped per line and turn as remember is.
   */
  private rememberJoined(eventId: string, entry: EntryRef): void {
    void this.writeMembers(eventId, [entry], true);
  }

  private async writeMembers(
    eventId: string, entries: readonly EntryRef[], ifAbsent: boolean,
  ): Promise<void> {
    if (entries.length === 0) return;
    for (const entry of entries) this.keepPlace(eventId, entry);
    const key = this.ctx.coord.keys.event(eventId, 'queue:members');
    const group = ifAbsent ? `${key} absent` : key;
    let pending = this.memberWrites.get(group);
    if (pending === undefined) {
      const fields: Record<string, string> = {};
      const coord = this.ctx.coord;
      const written = new Promise<void>((resolve) => {
        setImmediate(() => {
          this.memberWrites.delete(group);
          void this.cacheWrite(() => (ifAbsent
            ? coord.hashSetAbsent(key, fields, membersTtlMs)
            : coord.hashSet(key, fields, membersTtlMs))).then(resolve);
        });
      });
      pending = { fields, written };
      this.memberWrites.set(group, pending);
    }
    for (const entry of entries) {
      pending.fields[entry.customerId] = memberValue(entry);
    }
    await pending.written;
  }

  /** The customer's entry from the members cache only (undefined on a miss). */
  private async cachedEntry(eventId: string, customerId: string): Promise<EntryRef | undefined> {
    const key = this.ctx.coord.keys.event(eventId, 'queue:members');
    const cached = await this.cacheRead(() => this.ctx.coord.hashGet(key, customerId));
    return cached === null ? undefined : parseMember(customerId, cached);
  }

  /** Remembers a committed place in this node's memory (bounded, earliest dropped first). */
  private keepPlace(eventId: string, entry: EntryRef): void {
    const key = `${eventId} ${entry.customerId}`;
    this.places.delete(key);
    this.places.set(key, { entry, atMs: this.ctx.clock.nowMs() });
    dropOldest(this.places, limits.queueMemberMemoEntries);
  }

  /** The place from this node's memory, while it is recent enough to answer a poll. */
  private keptPlace(eventId: string, customerId: string): EntryRef | undefined {
    const kept = this.places.get(`${eventId} ${customerId}`);
    if (kept === undefined) return undefined;
    const ageMs = this.ctx.clock.nowMs() - kept.atMs;
    return ageMs >= 0 && ageMs < limits.queueMemberMemoMs ? kept.entry : undefined;
  }

  /**
   * The customer's entry: this node's memory first, then the members cache, then PostgreSQL
   * on a miss (and then cached).
   */
  async entry(eventId: string, customerId: string): Promise<EntryRef | undefined> {
    const kept = this.keptPlace(eventId, customerId);
    if (kept !== undefined) return kept;
    const cached = await this.cachedEntry(eventId, customerId);
    if (cached !== undefined) {
      this.keepPlace(eventId, cached);
      return cached;
    }
    const entry = await findEntry(this.ctx.db, eventId, customerId);
    if (entry !== undefined) await this.remember(eventId, entry);
    return entry;
  }

  private async cacheRead(read: () => Promise<string | null>): Promise<string | null> {
    try {
      return await read();
    } catch (error) {
      this.ctx.logger.warn({ err: error }, 'queue cache read failed; using the database');
      return null;
    }
  }

  private async cacheWrite(write: () => Promise<unknown>): Promise<void> {
    try {
      await write();
    } catch (error) {
      this.ctx.logger.warn({ err: error }, 'queue cache write failed; the database has it');
    }
  }
}

/** An entry as a members-cache value: `p` or the number, after `l` and before `:why` if left. */
function memberValue(entry: EntryRef): string {
  const mark = entry.number === null ? preQueueMark : String(entry.number);
  if (entry.left !== true) return mark;
  const why = entry.leftReason === undefined ? '' : `${reasonMark}${entry.leftReason}`;
  return `${leftMark}${mark}${why}`;
}

/** A members-cache value back to an entry (see memberValue); undefined when unreadable. */
function parseMember(customerId: string, value: string): EntryRef | undefined {
  const left = value.startsWith(leftMark);
  const [mark, why] = (left ? value.slice(leftMark.length) : value).split(reasonMark);
  let number: number | null;
  if (mark === preQueueMark) number = null;
  else if (mark !== undefined && /^\d+$/.test(mark)) number = Number(mark);
  else return undefined;
  if (!left) return why === undefined ? { customerId, number } : undefined;
  if (why === undefined) return { customerId, number, left };
  const leftReason = leftReasons.find((reason) => reason === why);
  return leftReason === undefined ? undefined : { customerId, number, left, leftReason };
}

/** Where a fan takes the waitlist in one step, leaving the line. */
export function waitlistUrl(eventId: string): string {
  return `/api/v1/events/${eventId}/queue/me/waitlist`;
}

function parseStatus(text: string): LineStatus | undefined {
  try {
    const value = JSON.parse(text) as LineStatus;
    const ok = typeof value.servedUpTo === 'number' && typeof value.seq === 'number';
    return ok ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Joining is for events that are not cancelled or over. */
export function assertJoinable(event: EventRecord, nowMs: number): void {
  if (event.cancelled) throw new DomainError('not_on_sale', 'this event has been cancelled');
  if (nowMs >= event.startsAtMs) throw new DomainError('not_on_sale', 'this event has ended');
}

const rooms = new WeakMap<AppContext, WaitingRoom>();

/** This node's waiting room for a context (one per context, created on first use). */
export function waitingRoom(ctx: AppContext): WaitingRoom {
  let room = rooms.get(ctx);
  if (room === undefined) {
    room = new WaitingRoom(ctx);
    rooms.set(ctx, room);
  }
  return room;
}
