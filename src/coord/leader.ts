/**
 * Leader election on top of the coordinator's lease, for singleton duties (queue
 * admission ticks, expiry sweeps, outbox relay, payment reconciliation).
 *
 * Safety rule: this node believes it leads only while the lease cannot have expired on
 * the store. Every acquire or renew starts a local deadline *before* the request is sent
 * (the store starts its TTL later, so the deadline is never past the real expiry), minus
 * a small margin for clock rate drift. When the deadline passes without a successful
 * renewal, for whatever reason (Redis down, event loop stalled, lease taken), leadership
 * is dropped. `isLeader()` checks the deadline itself, so a stalled timer cannot extend
 * it. Even so a lease is not a lock: duties should pass `fencingToken()` to what they
 * write so a deposed leader's late writes can be refused.
 */
import assert from 'node:assert/strict';

import { consoleLogger } from './shared.js';
import type { CoordLogger, LeaseStore } from './types.js';

/** Why leadership ended. */
export type LostReason = 'renew_rejected' | 'expired' | 'stopped';

/** A change of leadership on this node. */
export type LeadershipChange =
  | { type: 'gained'; token: number }
  | { type: 'lost'; token: number; reason: LostReason };

/** How a LeaderElector competes for one named duty. */
export interface LeaderElectorOptions {
  /** The duty, e.g. `queue-admission`; one leader per name. */
  name: string;
  /** Unique per process (host, pid and a random part): a restarted process is a new holder. */
  holderId: string;
  ttlMs: number;
  /** How often the leader renews and followers retry; default ttlMs / 3. */
  renewEveryMs?: number;
  /** A monotonic millisecond clock for local deadlines; default performance.now. */
  clock?: () => number;
  logger?: CoordLogger;
}

interface Leadership {
  token: number;
  /** Local clock time after which the lease may have lapsed on the store. */
  validUntil: number;
}

/** The electors of this process by lease store and duty name, for metrics to ask. */
const electors = new WeakMap<LeaseStore, Map<string, LeaderElector>>();

/**
 * The elector this process runs for duty `name` on `store`, if any. Metrics ask it rather
 * than the store: when Redis is down the leases live in PostgreSQL (coord/pgLease.ts), and
 * only the elector knows whether its lease is still certainly held.
 */
export function electorFor(store: LeaseStore, name: string): LeaderElector | undefined {
  return electors.get(store)?.get(name);
}

/** Competes for a lease and keeps it renewed; tells listeners when leadership changes. */
export class LeaderElector {
  private readonly name: string;
  private readonly holderId: string;
  private readonly ttlMs: number;
  private readonly renewEveryMs: number;
  private readonly marginMs: number;
  private readonly clock: () => number;
  private readonly logger: CoordLogger;
  private readonly listeners = new Set<(change: LeadershipChange) => void>();
  private leadership: Leadership | null = null;
  private running = false;
  private tickTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> = Promise.resolve();

  constructor(
    private readonly coord: LeaseStore,
    opts: LeaderElectorOptions,
  ) {
    assert.ok(Number.isSafeInteger(opts.ttlMs) && opts.ttlMs > 0, 'ttlMs must be > 0');
    this.name = opts.name;
    this.holderId = opts.holderId;
    this.ttlMs = opts.ttlMs;
    this.renewEveryMs = opts.renewEveryMs ?? Math.max(1, Math.floor(opts.ttlMs / 3));
    assert.ok(this.renewEveryMs > 0 && this.renewEveryMs < this.ttlMs, 'renew before expiry');
    this.marginMs = Math.ceil(this.ttlMs * 0.02) + 5;
    this.clock = opts.clock ?? (() => performance.now());
    this.logger = opts.logger ?? consoleLogger;
    const byName = electors.get(coord) ?? new Map<string, LeaderElector>();
    byName.set(this.name, this);
    electors.set(coord, byName);
  }

  /** Starts competing; resolves after the first attempt, whatever its outcome. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.runTick();
  }

  /** Stops competing and releases the lease if held, so a follower takes over at once. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.tickTimer);
    await this.inflight;
    const held = this.leadership;
    if (held) {
      this.lose('stopped');
      try {
        await this.coord.releaseLease(this.name, this.holderId, held.token);
      } catch (err) {
        // The lease will expire on its own; nothing is unsafe, a follower just waits longer.
        this.logger.warn({ err, lease: this.name }, 'lease release failed; it will expire');
      }
    }
    await this.coord.forget?.(this.name, this.holderId).catch((err: unknown) => {
      this.logger.warn({ err, lease: this.name }, 'lease store cleanup failed');
    });
  }

  /** True only while the lease is certainly still ours. */
  isLeader(): boolean {
    return this.current() !== null;
  }

  /** The fencing token of the current leadership, or null when not leader. */
  fencingToken(): number | null {
    return this.current()?.token ?? null;
  }

  /** Listens for gained/lost; returns a function that stops listening. */
  onChange(listener: (change: LeadershipChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private current(): Leadership | null {
    const held = this.leadership;
    if (!held) return null;
    if (this.clock() < held.validUntil) return held;
    this.lose('expired');
    return null;
  }

  private runTick(): Promise<void> {
    const run = this.tick().finally(() => this.schedule());
    this.inflight = run;
    return run;
  }

  private schedule(): void {
    if (!this.running) return;
    clearTimeout(this.tickTimer);
    this.tickTimer = setTimeout(() => void this.runTick(), this.renewEveryMs);
    this.tickTimer.unref();
  }

  private async tick(): Promise<void> {
    const held = this.current();
    const startedAt = this.clock();
    try {
      if (held) {
        await this.renew(held, startedAt);
        return;
      }
      if (!this.running) return;
      const token = await this.coord.acquireLease(this.name, this.holderId, this.ttlMs);
      if (token === null) return;
      if (this.running) {
        this.gain(token, startedAt);
        return;
      }
      // stop() was called while acquiring: hand the lease straight back.
      await this.coord.releaseLease(this.name, this.holderId, token);
    } catch (err) {
      // Keep leadership until its deadline: the store may still hold our lease, and the
      // expiry timer drops it in time if the store stays unreachable.
      this.logger.warn({ err, lease: this.name, leader: held !== null }, 'lease tick failed');
    }
  }

  private async renew(held: Leadership, startedAt: number): Promise<void> {
    const { name, holderId, ttlMs } = this;
    const renewed = await this.coord.renewLease(name, holderId, held.token, ttlMs);
    // Leadership may have been dropped meanwhile (deadline passed); the next tick's
    // acquire gets it back with the same token if the lease is still ours.
    if (this.leadership !== held) return;
    if (!renewed) {
      this.lose('renew_rejected');
      return;
    }
    this.extend(held, startedAt);
  }

  private gain(token: number, startedAt: number): void {
    // A reply slower than the lease proves nothing; the next tick asks again.
    if (startedAt + this.ttlMs - this.marginMs <= this.clock()) return;
    const held: Leadership = { token, validUntil: startedAt };
    this.leadership = held;
    this.extend(held, startedAt);
    this.emit({ type: 'gained', token });
  }

  private extend(held: Leadership, startedAt: number): void {
    held.validUntil = startedAt + this.ttlMs - this.marginMs;
    this.armExpiry(held);
  }

  private armExpiry(held: Leadership): void {
    clearTimeout(this.expiryTimer);
    const waitMs = Math.max(0, held.validUntil - this.clock()) + 1;
    this.expiryTimer = setTimeout(() => {
      const still = this.current();
      if (still) this.armExpiry(still);
    }, waitMs);
    this.expiryTimer.unref();
  }

  private lose(reason: LostReason): void {
    const held = this.leadership;
    if (!held) return;
    this.leadership = null;
    clearTimeout(this.expiryTimer);
    this.emit({ type: 'lost', token: held.token, reason });
  }

  private emit(change: LeadershipChange): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch (err) {
        this.logger.warn({ err, lease: this.name, change }, 'leadership listener threw');
      }
    }
  }
}
