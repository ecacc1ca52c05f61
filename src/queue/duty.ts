/**
 * The admission duty: on the one node elected for it, tick every active line on a fixed
 * cadence (rounds start every `QUEUE_TICK_MS`, however long the last one took, down to a
 * tenth of a period between rounds) and broadcast each line's new status.
 *
 * Election is a LeaderElector lease on the coordinator; the lease's fencing token travels
 * into every tick, where PostgreSQL refuses it once a newer leader has ticked. A node that
 * loses the lease stops ticking at its next round; one that stalls past its lease and
 * wakes up is refused by the token. Ticks of one round run one line after another: a
 * tick is a few short statements, and a bounded number of lines is looked at per round.
 * A line that fails (a database blip, a failed publish) is logged and the round goes on
 * with the next line; the failed one is retried at the next round.
 */
import { hostname } from 'node:os';

import { loadEvent } from '../catalog/events.js';
import type { AppContext } from '../context.js';
import { limits } from '../config/limits.js';
import { pinnedNowMs } from '../core/clock.js';
import { randomToken } from '../core/ids.js';
import { LeaderElector } from '../coord/index.js';
import { activeLines, tickLine, type TickOutcome } from './admission.js';
import type { SeedSource } from './line.js';
import { ReleaseCadence, releaseEveryMs } from './release.js';
import { readStoreSignal, type StorePaceKnobs } from './storePace.js';
import { supplyKnobs } from './supply.js';
import { waitingRoom } from './room.js';

/** How far back each tick looks for freed slots beyond the previous tick (see tickOne). */
const releaseOverlapMs = 2_000;

/** The lease name of the admission duty. */
export const admissionLease = 'queue-admission';

/** Options for tests: a fixed holder id or seeds. */
export interface AdmissionDutyOptions {
  holderId?: string;
  seeds?: SeedSource;
  /**
   * Test seam: the slot release period instead of the one QUEUE_IDLE_SECONDS gives
   * (release.ts), so a test's control can show the stall a release that never comes leaves.
   */
  releaseEveryMs?: number;
}

/** Competes for the admission lease and, while leader, ticks every active line. */
export class AdmissionDuty {
  readonly elector: LeaderElector;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private round: Promise<void> = Promise.resolve();
  /** Per line, how long the last tick's broadcast took to leave this node (ms). */
  private readonly publishLags = new Map<string, number>();
  /** Per line, the instant of this node's last tick (database clock, ms). */
  private readonly lastTickAtMs = new Map<string, number>();
  /** Per line, when this node's ticks last ran the slot release pass (release.ts). */
  private readonly releases = new ReleaseCadence();

  constructor(
    private readonly ctx: AppContext,
    private readonly options: AdmissionDutyOptions = {},
  ) {
    const holderId = options.holderId ??
      `${hostname()}:${process.pid}:${randomToken(6)}`;
    this.elector = new LeaderElector(ctx.leases ?? ctx.coord, {
      name: admissionLease, holderId, ttlMs: ctx.config.queue.leaderTtlMs, logger: ctx.logger,
    });
  }

  /** Starts competing for the lease and ticking while leader. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.elector.start();
    this.schedule();
  }

  /** Stops ticking, waits for the round in flight, and hands the lease back. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.round;
    await this.elector.stop();
  }

  /** Resolves once the round in flight, if any, has finished (its last tick committed). */
  async roundSettled(): Promise<void> {
    await this.round;
  }

  /**
   * One round over the active lines, if this node leads; returns the outcomes of the lines
   * that ticked without error (tests call this directly instead of waiting for the timer).
   */
  async tickOnce(): Promise<Map<string, TickOutcome>> {
    const outcomes = new Map<string, TickOutcome>();
    const token = this.elector.fencingToken();
    if (token === null) return outcomes;
    // A new term (this node leads again, or for the first time) releases on its first tick.
    this.releases.term(token);
    const { ctx } = this;
    for (const eventId of await activeLines(ctx.db, pinnedNowMs(ctx.clock))) {
      // Leadership can lapse mid-round; stop rather than tick on borrowed time.
      if (!this.elector.isLeader()) break;
      try {
        outcomes.set(eventId, await this.tickOne(eventId, token));
      } catch (error) {
        ctx.logger.warn({ err: error, eventId }, 'admission tick of a line failed; next round');
      }
    }
    return outcomes;
  }

  /** Ticks one line and broadcasts its new status. */
  private async tickOne(eventId: string, token: number): Promise<TickOutcome> {
    const { ctx } = this;
    const event = await loadEvent(ctx.db, eventId);
    const lag = this.publishLags.get(eventId);
    // The store's signal, once per tick: a missing, stale or unreadable one means healthy.
    const signal = await readStoreSignal(ctx.coord, eventId);
    const decidedAtMs = ctx.clock.nowMs();
    const releaseSlots = this.releases.due(eventId, decidedAtMs,
      this.options.releaseEveryMs ?? releaseEveryMs(ctx.config.queue.idleSeconds));
    const outcome = await tickLine(ctx.db, event, {
      store: { signal, knobs: storePaceKnobs(ctx) },
      nowMs: pinnedNowMs(ctx.clock), token,
      claimGraceSeconds: ctx.config.queue.claimGraceSeconds,
      tickMs: ctx.config.queue.tickMs, seeds: this.options.seeds,
      idleSeconds: ctx.config.queue.idleSeconds, supply: supplyKnobs(ctx.config.queue),
      releaseSlots,
      ...(lag === undefined ? {} : { publishLagMs: lag }),
    });
    if (outcome.kind === 'ticked') {
      if (releaseSlots) this.releases.released(eventId, decidedAtMs);
      const room = waitingRoom(ctx);
      await room.rememberAdmitted(eventId, outcome.admitted.map((fan) => fan.customerId));
      // Slots freed since the last tick (less a margin for transactions that began before
      // it and committed after): their cached passes go, before the broadcast.
      const since = this.lastTickAtMs.get(eventId) ??
        outcome.status.atMs - limits.queueAdmissionCacheMs;
      await room.forgetReleased(eventId, since - releaseOverlapMs);
      this.lastTickAtMs.delete(eventId);
      this.lastTickAtMs.set(eventId, outcome.status.atMs);
      if (this.lastTickAtMs.size > limits.queueEventsPerTick) {
        const oldest = this.lastTickAtMs.keys().next().value;
        if (oldest !== undefined) this.lastTickAtMs.delete(oldest);
      }
      await room.publish(outcome.status);
      // The tick's instant is the database clock; this node's clock is close enough for a
      // figure that is bounded and smoothed (pace.ts), and only ever moves an ETA.
      this.publishLags.delete(eventId);
      this.publishLags.set(eventId, ctx.clock.nowMs() - outcome.status.atMs);
      if (this.publishLags.size > limits.queueEventsPerTick) {
        const oldest = this.publishLags.keys().next().value;
        if (oldest !== undefined) this.publishLags.delete(oldest);
      }
    }
    if (outcome.kind === 'fenced') {
      ctx.logger.warn({ eventId, token, newerToken: outcome.newerToken },
        'admission tick refused: a newer leader has ticked this line');
    }
    return outcome;
  }

  private schedule(startedAtMs?: number): void {
    if (!this.running) return;
    const delayMs = startedAtMs === undefined ? this.ctx.config.queue.tickMs
      : nextRoundDelayMs(this.ctx.config.queue.tickMs, performance.now() - startedAtMs);
    this.timer = setTimeout(() => {
      const started = performance.now();
      this.round = this.tickOnce()
        .then(() => undefined)
        .catch((error: unknown) => {
          this.ctx.logger.warn({ err: error }, 'admission round failed; retrying next tick');
        })
        .finally(() => this.schedule(started));
    }, delayMs);
    this.timer.unref();
  }
}

/** The store pacing knobs of the configuration (storePace.ts). */
export function storePaceKnobs(ctx: AppContext): StorePaceKnobs {
  return {
    targetWaitMs: ctx.config.queue.storeTargetWaitMs,
    minFactor: ctx.config.queue.storePaceMinPercent / 100,
    recoverPerSecond: limits.storePaceRecoverPerSecond,
  };
}

/**
 * How long to wait before the next round, given how long the last one took: rounds start
 * on a fixed cadence (every `tickMs` from the last start), not `tickMs` after the last one
 * ended, so a busy database does not stretch the line's period and every ETA with it. A
 * round that overran its period is followed after a tenth of a period, never at once, so
 * the node's other work gets a turn between rounds.
 */
export function nextRoundDelayMs(tickMs: number, lastRoundMs: number): number {
  const floor = Math.ceil(tickMs / 10);
  return Math.max(floor, Math.round(tickMs - Math.max(0, lastRoundMs)));
}
