/**
 * When the admission duty runs a tick's slot release pass (migration 071's header).
 *
 * The pass frees the slots of shoppers whose order completed, whose cart lapsed or who sat
 * idle; at scale it is most of a tick's database work, all of it proportional to the live
 * shoppers. A slot it frees late only stays live longer, which the live-shopper cap counts,
 * so the cap never admits more for it; what a cadence costs is a ghost's slot for at most
 * one period more. Slots that end by time (claim grace, pass expiry) never wait for it.
 */
import { limits } from '../config/limits.js';

/**
 * The release period for a line: `limits.queueSlotReleaseEveryMs`, or a sixth of the idle
 * time when that is shorter, so the idle rule is never late by more than a sixth of itself.
 */
export function releaseEveryMs(idleSeconds: number): number {
  return Math.min(limits.queueSlotReleaseEveryMs, (idleSeconds * 1_000) / 6);
}

/**
 * Per line, the instant of the last tick that ran the release pass on this node. A line
 * this node has not released yet (a new leader, a line new to it) releases on its first
 * tick, so a failover never adds a period to a slot's wait. Bounded like the duty's other
 * per-line maps.
 */
export class ReleaseCadence {
  private readonly lastMs = new Map<string, number>();
  private token: number | null = null;

  /**
   * The lease's fencing token this round ticks under: a new one (this node leads again
   * after another did) forgets the old term's releases, so each line releases on its first
   * tick of the term, whatever the last leader did meanwhile.
   */
  term(token: number): void {
    if (token !== this.token) this.lastMs.clear();
    this.token = token;
  }

  /** Whether a tick of this line at `nowMs` (this node's clock) runs the release pass. */
  due(eventId: string, nowMs: number, everyMs: number): boolean {
    const last = this.lastMs.get(eventId);
    // A clock that went back (a test's, or a stepped system clock) releases at once.
    return last === undefined || nowMs - last >= everyMs || nowMs < last;
  }

  /** Records a tick of this line that ran the release pass and committed. */
  released(eventId: string, nowMs: number): void {
    this.lastMs.delete(eventId);
    this.lastMs.set(eventId, nowMs);
    if (this.lastMs.size > limits.queueEventsPerTick) {
      const oldest = this.lastMs.keys().next().value;
      if (oldest !== undefined) this.lastMs.delete(oldest);
    }
  }
}
