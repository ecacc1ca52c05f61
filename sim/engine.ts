/**
 * The crowd. Customers are records in arrays, not processes or sockets: they share one
 * keep-alive connection pool and are moved along by a few loops. While waiting in line
 * they hold no connection of their own: a sample of them (the observers) keep an SSE
 * stream open, and since one broadcast per tick (servedUpTo) moves the whole line, every
 * waiting customer whose number is served is admitted from what the observers hear.
 */
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { SimClient, readSse, retryAfterMs, type JsonReply, type Lane } from './http.js';
import type { Recorder } from './metrics.js';
import { RouteIntervals } from './serverLatency.js';
import type { SimOptions } from './options.js';
import { Rng } from './rng.js';

/**
 * Tries of one join, poll or hold that a node refused with Retry-After, before it counts as
 * failed.
 */
const retryAttemptsMax = 30;

/** One simulated fan. */
export interface Customer {
  index: number;
  customerId: string;
  token: string;
  /** Planned arrival, ms after the run started. */
  arriveAtMs: number;
  phase: 'pending' | 'joining' | 'pre_queue' | 'waiting' | 'shopping' | 'done';
  outcome?: 'bought' | 'declined' | 'abandoned' | 'sold_out' | 'gave_up' | 'left' | 'waitlist' |
    'error' | 'timeout';
  /** When the fan's outcome was settled or they were told sold out (ms after the start). */
  resolvedAtMs?: number;
  /** The fan was told sold out (then may have taken the waitlist). */
  toldSoldOut?: boolean;
  number: number | null;
  /** The join landed in the pre-queue (before on-sale): numbered by the draw. */
  preQueued?: boolean;
  joinedAtMs?: number;
  admittedAtMs?: number;
  /** When the line's broadcast first showed this fan's number served (before the pass). */
  servedAtMs?: number;
  /**
   * ETA the server predicted in the first view that showed the customer waiting (the join
   * reply, or the first poll after the draw), and when that view arrived.
   */
  predictedEtaSeconds?: number | null;
  predictedAtMs?: number;
  orderId?: string;
  tickets: number;
}

/** The event being sold, as the simulator needs it. */
export interface SimEvent {
  eventId: string;
  capacity: number;
  queueEnabled: boolean;
  zones: { key: string; kind: 'seated' | 'standing'; available: number }[];
  /** Seat ids of seated zones in layout order, front rows first (popularity order). */
  seatIds: Map<string, string[]>;
  onSaleAtMs: number;
}

export interface EngineResult {
  customers: Customer[];
  startedAtMs: number;
  durationMs: number;
  soldOutAtMs: number | null;
  finalSold: number;
  finalHeld: number;
  stoppedBy: 'everyone_done' | 'sold_out' | 'time_limit';
  /** When the last ticket was bought (ms after the run started), or null if none was. */
  lastSaleAtMs: number | null;
  /** The server's queue figures at the end (slots freed by why, leavers, waitlist). */
  finalQueue: Record<string, unknown> | null;
}

const terminalHold = new Set(['seats_unavailable', 'insufficient_inventory']);

/** Runs the crowd against `client` until everyone is done, the sale is over, or time is up. */
export class CrowdEngine {
  private startedAtMs = 0;
  private servedUpTo = 0;
  private soldOut = false;
  /** When this client learned the line had closed (a fan arriving later joins nothing). */
  private closedAtMs: number | undefined;
  private drawn = false;
  private soldOutAtMs: number | null = null;
  /** Waiting customers by line number; numbers are dense, so a cursor walks them. */
  private readonly waiting = new Map<number, Customer>();
  private scannedUpTo = 0;
  private readonly preQueue: Customer[] = [];
  private preQueueAskedAtMs = -Infinity;
  private doneCount = 0;
  private readonly observerStride: number;
  /** Fans whose stream is open to watch the line. */
  private readonly observing = new Set<Customer>();
  private activeShoppers = 0;
  private inFlightJoins = 0;
  private readonly abort = new AbortController();
  private readonly background: Promise<unknown>[] = [];
  private lastSold = 0;
  private lastHeld = 0;
  private lastSaleAtMs: number | null = null;
  /** Tickets available per zone, from the event page (polled with the stats). */
  private readonly zonesAvailable = new Map<string, number>();
  /** Until the server answers that it has no waitlist hand-over. */
  private waitlistOffered = true;
  private finalQueue: Record<string, unknown> | null = null;
  /**
   * The hold route's server-side latency between samples (the store node's /metrics), busy
   * refusals (503, answered at once) left out: the latency of the holds the store decided.
   */
  private readonly serverHolds = new RouteIntervals('POST', '/api/v1/events/:eventId/holds',
    '503');

  constructor(
    private readonly options: SimOptions,
    private readonly client: SimClient,
    private readonly recorder: Recorder,
    private readonly event: SimEvent,
    private readonly customers: Customer[],
    private readonly adminToken: string,
  ) {
    this.observerStride = Math.max(1, Math.floor(customers.length / options.observers));
    // Every sleeping shopper listens on the one abort signal.
    setMaxListeners(0, this.abort.signal);
  }

  /** Elapsed ms since the run started. */
  now(): number {
    return performance.now() - this.startedAtMs;
  }

  async run(onTick: (engine: CrowdEngine) => void): Promise<EngineResult> {
    this.startedAtMs = performance.now();
    const deadlineMs = this.options.maxSeconds * 1000;
    const sampler = this.sample();
    let stoppedBy: EngineResult['stoppedBy'] = 'time_limit';
    let next = 0;
    let lastTick = 0;
    while (this.now() < deadlineMs) {
      // Launch arrivals that are due, keeping the number of joins in flight bounded. A fan
      // who arrives after the line has closed sees the sale is over and joins nothing. A fan
      // who arrived before, but whose join the bound held back, still joins: they pressed
      // "join" while the line was open, and the server must answer every such fan.
      while (next < this.customers.length &&
             (this.customers[next] as Customer).arriveAtMs <= this.now()) {
        const customer = this.customers[next] as Customer;
        if (this.closedAtMs !== undefined && customer.arriveAtMs > this.closedAtMs) {
          next++;
          this.recorder.count('arrived_after_close');
          this.finish(customer, 'sold_out');
          continue;
        }
        if (this.inFlightJoins >= this.options.connections) break;
        next++;
        this.track(this.arrive(customer));
      }
      this.admitServed();
      if (this.now() - lastTick >= 1000) {
        lastTick = this.now();
        onTick(this);
      }
      if (this.doneCount === this.customers.length) {
        stoppedBy = 'everyone_done';
        break;
      }
      if (this.soldOut && this.activeShoppers === 0 && next >= this.customers.length &&
          this.inFlightJoins === 0) {
        stoppedBy = 'sold_out';
        break;
      }
      await sleep(10);
    }
    this.abort.abort();
    // Requests already sent (a move to the waitlist, say) finish and count before the rest
    // are settled; everything that waits listens to the abort signal.
    await Promise.allSettled(this.background);
    for (const customer of this.customers) {
      if (customer.phase !== 'done') this.finish(customer, this.soldOut ? 'sold_out' : 'timeout');
    }
    await sampler;
    await this.sampleOnce();
    onTick(this);
    return {
      customers: this.customers,
      startedAtMs: this.startedAtMs,
      durationMs: this.now(),
      soldOutAtMs: this.soldOutAtMs,
      finalSold: this.lastSold,
      finalHeld: this.lastHeld,
      stoppedBy,
      lastSaleAtMs: this.lastSaleAtMs,
      finalQueue: this.finalQueue,
    };
  }

  /** Live figures for the progress line. */
  snapshot(): { sold: number; held: number; waiting: number; shopping: number; done: number } {
    return {
      sold: this.lastSold,
      held: this.lastHeld,
      waiting: this.waiting.size + this.preQueue.length,
      shopping: this.activeShoppers,
      done: this.doneCount,
    };
  }

  private track(work: Promise<unknown>): void {
    const guarded = work.catch((error: unknown) => {
      this.recorder.count('client_errors');
      if (process.env.SIM_DEBUG) console.error(error);
    });
    this.background.push(guarded);
  }

  private auth(customer: Customer): Record<string, string> {
    return { authorization: `Bearer ${customer.token}` };
  }

  private finish(customer: Customer, outcome: NonNullable<Customer['outcome']>): void {
    if (customer.phase === 'done') return;
    customer.phase = 'done';
    customer.outcome = outcome;
    customer.resolvedAtMs ??= this.now();
    this.doneCount++;
    this.recorder.count(`outcome_${outcome}`);
  }

  // ---- the line ----------------------------------------------------------------------

  private async arrive(customer: Customer): Promise<void> {
    if (!this.event.queueEnabled) {
      await this.shop(customer, undefined);
      return;
    }
    customer.phase = 'joining';
    let reply: JsonReply;
    for (let attempt = 1; ; attempt++) {
      this.inFlightJoins++;
      try {
        reply = await this.client.json('queue join', 'POST',
          `/api/v1/events/${this.event.eventId}/queue`, { headers: this.auth(customer), body: {} });
      } finally {
        this.inFlightJoins--;
      }
      // A node shedding load (or a rate limit) says when to come back; a join is idempotent.
      if (!(await this.waitToRetry(customer, reply, attempt, 'join'))) break;
    }
    customer.joinedAtMs = this.now();
    if (reply.status !== 200 && reply.status !== 201) {
      this.recorder.count(`join_status_${reply.status}`);
      this.finish(customer, 'error');
      return;
    }
    this.recorder.count('joined');
    if (reply.body.state === 'pre_queue') customer.preQueued = true;
    const observer = customer.index % this.observerStride === 0;
    this.place(customer, reply.body);
    if (observer) this.track(this.observe(customer));
  }

  /** Files a customer by the view the server gave (join reply, /queue/me, or SSE). */
  private place(customer: Customer, view: Record<string, unknown>): void {
    const state = view.state;
    if (typeof view.number === 'number') customer.number = view.number;
    if (typeof view.servedUpTo === 'number') this.advance(view.servedUpTo);
    if (customer.predictedEtaSeconds === undefined && state === 'waiting') {
      customer.predictedEtaSeconds = typeof view.etaSeconds === 'number' ? view.etaSeconds : null;
      customer.predictedAtMs = this.now();
    }
    if (state === 'sold_out') {
      this.markSoldOut();
      this.soldOutFor(customer, view);
    } else if (state === 'left') {
      this.finish(customer, 'left');
    } else if (state === 'admitted' && typeof view.pass === 'string') {
      this.startShopping(customer, view.pass);
    } else if (state === 'pre_queue') {
      customer.phase = 'pre_queue';
      this.preQueue.push(customer);
    } else if (state === 'waiting' && customer.number !== null) {
      customer.phase = 'waiting';
      if (customer.number <= this.scannedUpTo) {
        // Served already by what the observers heard; this view raced the tick (the fan's
        // own stream would say so at once, so that is when they were served). Ask again.
        customer.servedAtMs ??= this.now();
        this.track(sleep(250).then(() => this.refresh(customer)));
      } else {
        this.waiting.set(customer.number, customer);
      }
    } else if (state === 'expired') {
      this.finish(customer, 'gave_up');
    } else {
      this.recorder.count(`queue_state_${String(state)}`);
      this.finish(customer, 'error');
    }
  }

  /**
   * A fan told sold out: some take the waitlist in one step (the link on the message), the
   * rest are done. Either way they are resolved now.
   */
  private soldOutFor(customer: Customer, view: Record<string, unknown>): void {
    if (customer.phase === 'done') return;
    customer.toldSoldOut = true;
    // Told is resolved: the fan knows; taking the waitlist is their next step, not the line's.
    customer.resolvedAtMs = this.now();
    this.recorder.count('told_sold_out');
    const url = typeof view.waitlistUrl === 'string' ? view.waitlistUrl : undefined;
    const rng = new Rng(this.options.seed * 104_729 + customer.index);
    if (url === undefined || !this.waitlistOffered || !rng.chance(this.options.waitlist)) {
      this.finish(customer, 'sold_out');
      return;
    }
    customer.phase = 'joining';
    this.track(this.takeWaitlist(customer, url, rng));
  }

  private async takeWaitlist(customer: Customer, url: string, rng: Rng): Promise<void> {
    const reply = await this.client.json('waitlist (one step)', 'POST', url, {
      headers: this.auth(customer), body: { quantity: rng.int(1, 4) },
    });
    if (reply.status === 200 || reply.status === 201) {
      this.finish(customer, 'waitlist');
      return;
    }
    this.recorder.count(`waitlist_status_${reply.status}`);
    // The server has no waitlist hand-over: stop asking, the fan is simply sold out.
    if (reply.status === 404 || reply.status === 405) this.waitlistOffered = false;
    this.finish(customer, 'sold_out');
  }

  private advance(servedUpTo: number): void {
    if (servedUpTo > this.servedUpTo) this.servedUpTo = servedUpTo;
  }

  private markSoldOut(): void {
    if (this.soldOut) return;
    this.soldOut = true;
    this.closedAtMs = this.now();
    this.soldOutAtMs ??= this.now();
  }

  /**
   * Keeps an observer's SSE stream open, feeding the line's progress to everyone. Once the
   * observer is admitted (or done), their stream no longer follows the line, so another
   * waiting fan takes over: the one furthest back, so that the line is watched to its end.
   */
  private async observe(customer: Customer): Promise<void> {
    this.observing.add(customer);
    const mine = new AbortController();
    const signal = AbortSignal.any([this.abort.signal, mine.signal]);
    let handedOver = false;
    const handOver = (): void => {
      if (handedOver) return;
      handedOver = true;
      mine.abort();
      const next = this.tailWatcher();
      if (next !== undefined) this.track(this.observe(next));
    };
    try {
      for (let attempt = 0; attempt < 20 && !signal.aborted; attempt++) {
        try {
          await readSse(this.client.streams, `/api/v1/events/${this.event.eventId}/queue/stream`,
            this.auth(customer), signal, (message) => {
              if (message.data === '') return;
              let view: Record<string, unknown>;
              try {
                view = JSON.parse(message.data) as Record<string, unknown>;
              } catch {
                return;
              }
              this.recorder.count('sse_messages');
              if (typeof view.servedUpTo === 'number') this.advance(view.servedUpTo);
              if (view.state === 'sold_out') this.markSoldOut();
              if (view.state !== 'pre_queue') this.drawn = true;
              if (view.state !== 'waiting' && view.state !== 'pre_queue' &&
                  view.state !== 'sold_out') {
                handOver();
              }
            });
          if (signal.aborted || this.soldOut) return;
        } catch {
          if (signal.aborted) return;
          this.recorder.count('sse_reconnects');
        }
        await sleep(200);
      }
    } finally {
      this.observing.delete(customer);
      if (!this.abort.signal.aborted && !this.soldOut) handOver();
    }
  }

  /** The waiting fan furthest back who is not watching yet (undefined when none is). */
  private tailWatcher(): Customer | undefined {
    let best: Customer | undefined;
    for (const customer of this.waiting.values()) {
      if (this.observing.has(customer)) continue;
      if (best === undefined || (customer.number ?? 0) > (best.number ?? 0)) best = customer;
    }
    return best;
  }

  /** Moves served customers to shopping; after the draw, learns pre-queue numbers. */
  private admitServed(): void {
    if (this.soldOut) {
      // The observers heard it; every other waiting fan's own stream would say the same.
      const told = { state: 'sold_out', waitlistUrl: this.waitlistUrl() };
      for (const customer of this.waiting.values()) this.soldOutFor(customer, told);
      this.waiting.clear();
      for (const customer of this.preQueue.splice(0)) this.soldOutFor(customer, told);
      return;
    }
    // Pre-queue fans learn their drawn number by asking; the draw runs in chunks, so ask at
    // most once a second rather than on every loop.
    if (this.drawn && this.preQueue.length > 0 && this.now() - this.preQueueAskedAtMs >= 1000) {
      this.preQueueAskedAtMs = this.now();
      for (const customer of this.preQueue.splice(0)) {
        this.track(this.refresh(customer, 'crowd'));
      }
    }
    while (this.scannedUpTo < this.servedUpTo) {
      this.scannedUpTo++;
      const customer = this.waiting.get(this.scannedUpTo);
      if (customer === undefined) continue;
      customer.servedAtMs ??= this.now();
      this.waiting.delete(this.scannedUpTo);
      this.track(this.refresh(customer));
    }
  }

  private waitlistUrl(): string {
    return `/api/v1/events/${this.event.eventId}/queue/me/waitlist`;
  }

  /**
   * A fan who is done without buying. One who gave up because nothing fitted says so: the
   * store tells them nothing fits and offers to leave or take the waitlist, so the pass goes
   * back at once. Of those whose payment failed, some give the pass back (`--leave`), the
   * rest just close the tab (the slot frees when they have idled).
   */
  private async walkAway(
    customer: Customer, rng: Rng, outcome: 'gave_up' | 'declined',
  ): Promise<void> {
    const says = outcome === 'gave_up' || rng.chance(this.options.leave);
    if (this.event.queueEnabled && says) {
      const reply = await this.client.json('leave the line', 'DELETE',
        `/api/v1/events/${this.event.eventId}/queue/me`,
        { headers: this.auth(customer), lane: 'shop' });
      this.recorder.count(reply.status === 200 ? 'gave_pass_back' : `leave_status_${reply.status}`);
    }
    this.finish(customer, outcome);
  }

  /**
   * Asks the server for this customer's view (their pass once admitted). A fan served by the
   * line asks on the shoppers' lane: the page that shows their pass is the store's door.
   */
  private async refresh(customer: Customer, lane: Lane = 'shop'): Promise<void> {
    let reply: JsonReply;
    for (let attempt = 1; ; attempt++) {
      reply = await this.client.json('queue me', 'GET',
        `/api/v1/events/${this.event.eventId}/queue/me`, { headers: this.auth(customer), lane });
      if (!(await this.waitToRetry(customer, reply, attempt, 'poll'))) break;
    }
    if (reply.status !== 200) {
      this.finish(customer, 'error');
      return;
    }
    customer.phase = 'joining';
    this.place(customer, reply.body);
  }

  /**
   * A join, poll or hold refused with Retry-After (429, or 503 from a node shedding load or
   * a store too busy to hold in time): waits
   * as asked, spread by up to half again per fan so the retries do not come back together,
   * and answers true to send it again; false when the reply stands (any other reply, the
   * run is over, or `retryAttemptsMax` tries were refused).
   */
  private async waitToRetry(
    customer: Customer, reply: JsonReply, attempt: number, what: 'join' | 'poll' | 'hold',
  ): Promise<boolean> {
    const waitMs = retryAfterMs(reply);
    if (waitMs === undefined || attempt >= retryAttemptsMax || this.abort.signal.aborted) {
      return false;
    }
    this.recorder.count(`${what}_retried_after`);
    const spreadMs = waitMs * ((customer.index % 101) / 200);
    await sleep(waitMs + spreadMs, undefined, { signal: this.abort.signal })
      .catch(() => undefined);
    return !this.abort.signal.aborted;
  }

  // ---- shopping ----------------------------------------------------------------------

  private startShopping(customer: Customer, pass: string): void {
    customer.admittedAtMs = this.now();
    this.recorder.count('admitted');
    this.track(this.shop(customer, pass));
  }

  private async shop(customer: Customer, pass: string | undefined): Promise<void> {
    customer.phase = 'shopping';
    this.activeShoppers++;
    const rng = new Rng(this.options.seed * 7919 + customer.index);
    try {
      const hold = await this.hold(customer, pass, rng);
      if (hold === undefined) return;
      await sleep(rng.exponential(this.options.thinkMs), undefined, { signal: this.abort.signal })
        .catch(() => undefined);
      await this.decide(customer, hold, rng);
    } finally {
      this.activeShoppers--;
    }
  }

  /**
   * What a fan asks for, as they would from the live seat map: a zone that shows tickets,
   * never more than it shows, and named seats only while the map is not nearly empty.
   * Undefined when the map shows nothing available at all.
   */
  private holdBody(rng: Rng): Record<string, unknown> | undefined {
    const o = this.options;
    const left = (key: string): number => this.zonesAvailable.get(key) ?? Infinity;
    const open = this.event.zones.filter((z) => left(z.key) > 0);
    if (open.length === 0) return undefined;
    const seated = open.filter((z) => z.kind === 'seated');
    const standing = open.filter((z) => z.kind === 'standing');
    const wanted = rng.int(1, 4);
    const roll = rng.next() * (o.bestAvailable + o.pickSeats + o.standingShare);
    if (standing.length > 0 && (roll >= o.bestAvailable + o.pickSeats || seated.length === 0)) {
      const zone = rng.pick(standing);
      return { zone: zone.key, quantity: Math.min(wanted, left(zone.key)) };
    }
    const zone = rng.pick(seated.length > 0 ? seated : standing);
    const quantity = Math.min(wanted, left(zone.key));
    const seats = this.event.seatIds.get(zone.key) ?? [];
    const mapFull = left(zone.key) >= seats.length / 10;
    if (roll >= o.bestAvailable && seats.length >= quantity && mapFull) {
      // Popular seats: start near the front, take neighbours.
      const start = Math.min(seats.length - quantity, rng.zipf(seats.length, o.popularSkew));
      return { seats: seats.slice(start, start + quantity) };
    }
    return { zone: zone.key, quantity };
  }

  private async hold(
    customer: Customer, pass: string | undefined, rng: Rng,
  ): Promise<{ holdId: string; tickets: number } | undefined> {
    const headers = { ...this.auth(customer), ...(pass === undefined ? {} : { 'x-queue-pass': pass }) };
    for (let attempt = 0, looks = 0; attempt < 3; attempt++) {
      const body = this.holdBody(rng);
      if (body === undefined) {
        // Nothing on the map: look again a few times, then give up.
        if (++looks > 3) break;
        attempt--;
        await sleep(1_000, undefined, { signal: this.abort.signal }).catch(() => undefined);
        continue;
      }
      const step = 'seats' in body ? 'hold seats' : 'hold best available';
      let reply = await this.client.json(step, 'POST', `/api/v1/events/${this.event.eventId}/holds`,
        { headers, body, lane: 'shop' });
      // The store refused the hold as busy (503, nothing decided, the slot kept): the same
      // request again after Retry-After, as the web app does; counted, not a failure.
      for (let busy = 0; reply.status === 503; busy++) {
        if (reply.body.reason === 'store_busy') this.recorder.count('hold_busy_refused');
        if (!(await this.waitToRetry(customer, reply, busy, 'hold'))) break;
        reply = await this.client.json(step, 'POST', `/api/v1/events/${this.event.eventId}/holds`,
          { headers, body, lane: 'shop' });
      }
      if (reply.status === 201) {
        this.recorder.count('holds_ok');
        const items = reply.body.items;
        return { holdId: String(reply.body.holdId), tickets: Array.isArray(items) ? items.length : 0 };
      }
      const code = String(reply.body.code ?? reply.status);
      this.recorder.count(`hold_${code}`);
      if (terminalHold.has(code)) {
        this.recorder.count('hold_conflicts');
        continue;
      }
      if (code === 'limit_exceeded') await this.walkAway(customer, rng, 'gave_up');
      // The pass is gone (their cart lapsed, or they never showed up in the grace): the
      // store sends them out, as it would a fan whose time is up.
      else if (code === 'queue_pass_required') this.finish(customer, 'gave_up');
      else this.finish(customer, 'error');
      return undefined;
    }
    await this.walkAway(customer, rng, 'gave_up');
    return undefined;
  }

  private async decide(
    customer: Customer, hold: { holdId: string; tickets: number }, rng: Rng,
  ): Promise<void> {
    const o = this.options;
    const roll = rng.next() * (o.pay + o.decline + o.abandon);
    if (roll >= o.pay + o.decline) {
      this.finish(customer, 'abandoned'); // walks away; the hold expires by itself
      return;
    }
    const declined = roll >= o.pay;
    const method = declined
      ? 'sim_declined'
      : rng.chance(o.slowPay) ? 'sim_slow' : rng.chance(o.asyncPay) ? 'sim_async_ok' : 'sim_ok';
    const reply = await this.client.json('checkout', 'POST', `/api/v1/holds/${hold.holdId}/checkout`, {
      headers: { ...this.auth(customer), 'idempotency-key': `sim-${o.seed}-${customer.index}` },
      body: { paymentMethod: method }, lane: 'shop',
    });
    if (reply.status !== 201 && reply.status !== 200) {
      const code = String(reply.body.code ?? reply.status);
      this.recorder.count(`checkout_${code}`);
      // Paid too late: the cart's timer ran out first (a slow machine, a slow fan). The fan
      // is told so and goes; anything else is an error.
      this.finish(customer, code === 'hold_expired' ? 'gave_up' : 'error');
      return;
    }
    const orderId = String(reply.body.orderId);
    let status = String(reply.body.status);
    // A pending payment is polled as a checkout page would: soon, then less and less often
    // (250 ms doubling to 2 s), for the same 10 s of waiting in all as before (8 polls at
    // most, not 100).
    const patienceMs = 10_000;
    let waitedMs = 0;
    for (let delayMs = 250; status === 'pending_payment' && waitedMs < patienceMs
      && !this.abort.signal.aborted; delayMs = Math.min(delayMs * 2, 2_000)) {
      const waitMs = Math.min(delayMs, patienceMs - waitedMs);
      await sleep(waitMs);
      waitedMs += waitMs;
      const order = await this.client.json('order poll', 'GET', `/api/v1/orders/${orderId}`,
        { headers: this.auth(customer), lane: 'shop' });
      status = String(order.body.status);
    }
    if (status !== 'confirmed') {
      this.recorder.count(`order_${status}`);
      await this.client.json('release', 'DELETE', `/api/v1/holds/${hold.holdId}`,
        { headers: this.auth(customer), lane: 'shop' });
      await this.walkAway(customer, rng, 'declined');
      return;
    }
    this.lastSaleAtMs = this.now();
    customer.orderId = orderId;
    customer.tickets = hold.tickets;
    this.recorder.count('tickets_bought', hold.tickets);
    this.finish(customer, 'bought');
    if (rng.chance(o.cancel)) {
      await sleep(rng.exponential(o.thinkMs * 2));
      const cancelled = await this.client.json('cancel', 'POST', `/api/v1/orders/${orderId}/cancel`,
        { headers: this.auth(customer), body: {}, lane: 'shop' });
      this.recorder.count(cancelled.status === 200 ? 'cancelled' : 'cancel_failed');
    }
  }

  // ---- sampling ----------------------------------------------------------------------

  /**
   * Samples the sale's live figures (admin stats) every second for the timeline: as often as
   * the server computes them (STATS_CACHE_MS, 1 s, per node).
   */
  private async sample(): Promise<void> {
    while (!this.abort.signal.aborted) {
      await this.sampleOnce();
      await sleep(1_000, undefined, { signal: this.abort.signal }).catch(() => undefined);
    }
  }

  /** One sample of the live figures (also the final one, after the crowd stops). */
  private async sampleOnce(): Promise<void> {
    try {
      const reply = await this.client.json(null, 'GET',
        `/api/v1/admin/events/${this.event.eventId}/stats`,
        { headers: { authorization: `Bearer ${this.adminToken}` }, lane: 'shop' });
      const tickets = reply.body.tickets as { sold: number; held: number; available: number };
      const queue = reply.body.queue as {
        waiting: number; admitted: number; activeShoppers?: number;
        storePace?: { factor: number; storeWaitMs: number | null; liveCap?: number };
      };
      // The hold node's own latency since the last sample (holds go on the shoppers' lane).
      const metrics = await this.client.text('/metrics', 'shop');
      const serverHold = metrics === null ? null : this.serverHolds.next(metrics);
      this.finalQueue = reply.body.queue as Record<string, unknown>;
      this.lastSold = tickets.sold;
      this.lastHeld = tickets.held;
      if (tickets.sold >= this.event.capacity) this.soldOutAtMs ??= this.now();
      this.recorder.timeline.push({
        tMs: this.now(), sold: tickets.sold, held: tickets.held, available: tickets.available,
        waiting: this.event.queueEnabled ? queue.waiting : 0,
        admitted: this.event.queueEnabled ? queue.admitted : this.recorder.get('admitted'),
        holdsOk: this.recorder.get('holds_ok'),
        holdConflicts: this.recorder.get('hold_conflicts'),
        holdsBusy: this.recorder.get('hold_busy_refused'),
        storePaceFactor: this.event.queueEnabled ? queue.storePace?.factor ?? null : null,
        storeWaitMs: this.event.queueEnabled ? queue.storePace?.storeWaitMs ?? null : null,
        activeShoppers: this.event.queueEnabled ? queue.activeShoppers ?? null : null,
        liveCap: this.event.queueEnabled ? queue.storePace?.liveCap ?? null : null,
        serverHold,
      });
      if (!this.event.queueEnabled && tickets.available === 0 && tickets.held === 0) {
        this.markSoldOut();
      }
      // The map a fan in the store looks at: on the shoppers' lane, as the dashboard above.
      const page = await this.client.json(null, 'GET', `/api/v1/events/${this.event.eventId}`,
        { lane: 'shop' });
      for (const zone of (page.body.zones ?? []) as { key: string; available: number }[]) {
        this.zonesAvailable.set(zone.key, zone.available);
      }
    } catch {
      this.recorder.count('sample_errors');
    }
  }
}
