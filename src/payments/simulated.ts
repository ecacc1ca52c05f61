/**
 * The built-in simulated gateway. It behaves like a real card gateway so the booking
 * engine is exercised the way production exercises it:
 *
 *  - `sim_ok` captures at once, `sim_declined` declines at once;
 *  - `sim_async_ok` / `sim_async_declined` answer pending, and the outcome arrives later
 *    by signed webhook;
 *  - `sim_slow` captures after several seconds (for hold/payment races);
 *  - every outcome is also sent as a webhook, each delivery may be duplicated, and the
 *    deliveries of one payment are shuffled (a "processing" event can arrive after the
 *    "captured" one), as real providers do;
 *  - refunds succeed and are confirmed by webhook too;
 *  - like Stripe, each delivery attempt is signed when it is sent, not when its event was
 *    decided: deliveries wait in the gateway's own queue for one of a few connections
 *    (a slow receiver builds a backlog), and a failed attempt is retried with backoff, so
 *    a signature never ages in a queue past the receiver's timestamp tolerance.
 *
 * The outcome of a charge is decided by its payment method, but what the gateway actually
 * did is kept in a ledger (its own books): `lookup` answers from it, so a payment that was
 * never charged is reported as unknown, never as captured or declined. Running nodes keep
 * the ledger in the database so every node answers alike; tests may keep it in memory.
 * Webhooks go through an injectable `deliver`; in `manual` mode they queue until
 * `flush()`, which lets tests drive asynchronous outcomes exactly.
 */
import { randomBytes } from 'node:crypto';
import { Pool } from 'undici';
import { limits } from '../config/limits.js';
import type { Clock } from '../core/clock.js';
import { GroupCommit } from '../core/groupCommit.js';
import type { Queryable } from '../storage/index.js';
import { signatureHeader, signPayload, verifySignature } from './signature.js';
import {
  WebhookRejected, type ChargeOutcome, type ChargeRequest, type PaymentProvider,
  type PaymentQuery, type PreparedCharge, type ProviderEvent, type RefundOutcome,
  type RefundQuery, type RefundRequest, type WebhookHeaders,
} from './types.js';

/** Payment methods of the simulated gateway. */
export const simulatedMethods = [
  'sim_ok', 'sim_declined', 'sim_async_ok', 'sim_async_declined', 'sim_slow',
] as const;
export type SimulatedMethod = (typeof simulatedMethods)[number];

/** What the gateway did with a payment id. */
export type SimulatedStatus = 'captured' | 'declined' | 'cancelled';

/**
 * The gateway's books. `record` writes a status for a payment unless one is there already
 * and returns the status that stands: the first of "charged" and "cancelled" wins.
 */
export interface SimulatedLedger {
  record(paymentId: string, method: string, status: SimulatedStatus): Promise<SimulatedStatus>;
  read(paymentId: string): Promise<SimulatedStatus | undefined>;
}

/** A ledger in this process's memory (unit tests; one node only). */
export function memoryLedger(): SimulatedLedger {
  const books = new Map<string, SimulatedStatus>();
  return {
    async record(paymentId, _method, status) {
      const known = books.get(paymentId);
      if (known !== undefined) return known;
      books.set(paymentId, status);
      return status;
    },
    async read(paymentId) {
      return books.get(paymentId);
    },
  };
}

/** One write to the books, as a batch of them sends it. */
interface LedgerWrite {
  paymentId: string;
  method: string;
  status: SimulatedStatus;
}

/**
 * Writes a batch to the books in one statement (one round trip, one commit): each payment's
 * new row, or the row already there. Rows are inserted in payment id order, so batches
 * beside each other wait for each other's rows rather than deadlock; of two writes for one
 * payment in a batch, the earlier stands (first write wins, as across batches). A row
 * inserted by a concurrent batch after this statement's snapshot is not seen by its second
 * half; then it is read again (only a charge racing an abandon gets there).
 */
async function recordAll(
  db: Queryable, read: (paymentId: string) => Promise<SimulatedStatus | undefined>,
  writes: readonly LedgerWrite[],
): Promise<SimulatedStatus[]> {
  const { rows } = await db.query<{ n: number; status: SimulatedStatus | null }>(
    `WITH input AS (
       SELECT u.payment_id, u.method, u.status, u.n::int AS n
         FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY
              AS u(payment_id, method, status, n)),
     written AS (
       INSERT INTO simulated_gateway_charges (payment_id, method, status)
       SELECT DISTINCT ON (payment_id) payment_id, method, status FROM input
        ORDER BY payment_id, n
       ON CONFLICT (payment_id) DO NOTHING RETURNING payment_id, status)
     SELECT i.n, coalesce(w.status, c.status) AS status
       FROM input i
       LEFT JOIN written w ON w.payment_id = i.payment_id
       LEFT JOIN simulated_gateway_charges c
              ON c.payment_id = i.payment_id AND w.payment_id IS NULL`,
    [writes.map((w) => w.paymentId), writes.map((w) => w.method), writes.map((w) => w.status)],
  );
  const stands = new Array<SimulatedStatus | null>(writes.length).fill(null);
  for (const row of rows) stands[row.n - 1] = row.status;
  return await Promise.all(stands.map(async (status, i) => {
    const found = status ?? await read((writes[i] as LedgerWrite).paymentId);
    if (found === undefined) throw new Error('assertion failed: ledger row vanished');
    return found;
  }));
}

/**
 * A ledger in the database (table simulated_gateway_charges), shared by every node. Its
 * writes are group-committed (core/groupCommit.ts): the charges that arrive while earlier
 * writes run are written together in one statement, as a gateway's own books would be.
 */
export function databaseLedger(db: Queryable): SimulatedLedger {
  const read = async (paymentId: string): Promise<SimulatedStatus | undefined> => {
    const { rows } = await db.query<{ status: SimulatedStatus }>(
      'SELECT status FROM simulated_gateway_charges WHERE payment_id = $1', [paymentId]);
    return rows[0]?.status;
  };
  const writes = new GroupCommit<LedgerWrite, SimulatedStatus>({
    maxBatch: limits.simulatedLedgerBatchMax,
    inFlight: limits.simulatedLedgerBatchesInFlight,
    run: async (_key, batch) => await recordAll(db, read, batch),
  });
  return {
    async record(paymentId, method, status) {
      return await writes.submit('books', { paymentId, method, status });
    },
    read,
  };
}

/** A signed webhook ready to POST. */
export interface WebhookDelivery {
  body: string;
  headers: Record<string, string>;
}

/**
 * How the gateway sends one delivery attempt, signed just before the call; default is an
 * HTTP POST to the webhook URL. Returning means done (accepted, or refused for good);
 * throwing means "try again later" (no answer, 5xx, 429), with a new signature.
 */
export type Deliver = (delivery: WebhookDelivery) => Promise<void>;

/** Attempts per delivery, and the wait before the first retry (doubling after each). */
const deliveryAttempts = 4;
const retryBaseMs = 500;

export interface SimulatedGatewayOptions {
  /** Webhook signing secret. */
  secret: string;
  clock: Clock;
  deliver: Deliver;
  /** Queue webhooks until flush() instead of sending them on timers. */
  manual?: boolean;
  /** Delay before asynchronous outcomes are sent (default 1,500 ms). */
  asyncDelayMs?: number;
  /** How long `sim_slow` takes to capture (default 5,000 ms). */
  slowMs?: number;
  /** Send every webhook twice (default true). */
  duplicates?: boolean;
  /**
   * Delivery attempts in flight at once (default limits.simulatedWebhookConnections, the
   * connections of httpDeliver's pool); the rest wait in the gateway's queue, unsigned.
   */
  deliveriesInFlight?: number;
  /** Seed for shuffling deliveries, so a run can be replayed. */
  seed?: number;
  /** The gateway's books (default: in memory). */
  ledger?: SimulatedLedger;
}

interface SimEventBody {
  id: string;
  type: string;
  created: number;
  data: { paymentId?: string; refundId?: string; providerRef?: string; reason?: string };
}

/** A delivery attempt that should be made again later (no answer, 5xx, 429). */
export class DeliveryFailed extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'DeliveryFailed';
  }
}

/**
 * Builds a webhook poster for a base URL (used outside tests): keep-alive connections from
 * an undici pool. The global fetch cost about 1.5 ms of CPU per delivery (web streams, abort
 * signals, transferables), more than the webhook's own handling; every sim_ok checkout sends
 * two. One attempt per call: the gateway retries, signing each attempt anew.
 */
export function httpDeliver(baseUrl: string): Deliver {
  const url = new URL(`${baseUrl.replace(/\/$/, '')}/api/v1/payments/webhooks/simulated`);
  let pool: Pool | undefined;
  const post = async (delivery: WebhookDelivery): Promise<number> => {
    pool ??= new Pool(url.origin, { connections: limits.simulatedWebhookConnections });
    const response = await pool.request({
      method: 'POST', path: `${url.pathname}${url.search}`, body: delivery.body,
      headers: delivery.headers, headersTimeout: 10_000, bodyTimeout: 10_000,
    });
    await response.body.dump();
    return response.statusCode;
  };
  return async (delivery) => {
    let status: number;
    try {
      status = await post(delivery);
    } catch (error) {
      throw new DeliveryFailed(`no answer: ${String(error)}`);
    }
    // A refusal is final, except "too many requests": that one is retried, as real
    // providers do.
    if ((status >= 200 && status < 300) || (status >= 400 && status < 500 && status !== 429)) {
      return;
    }
    throw new DeliveryFailed(`answered ${status}`);
  };
}

/** A small seeded generator (mulberry32) for reproducible delivery orders. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function isSimMethod(method: string): method is SimulatedMethod {
  return (simulatedMethods as readonly string[]).includes(method);
}

/** An event body waiting to be sent, and how many attempts it has had. */
interface Outgoing {
  body: string;
  attempts: number;
}

/** The simulated gateway. */
export class SimulatedGateway implements PaymentProvider {
  readonly name = 'simulated';
  /** Manual mode: event bodies not yet delivered (signed when read or flushed). */
  private readonly queue: string[] = [];
  /** Deliveries due now, waiting for a free slot; signed when they get one. */
  private readonly outgoing: Outgoing[] = [];
  private inFlight = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly random: () => number;
  private readonly ledger: SimulatedLedger;
  private closed = false;

  constructor(private readonly options: SimulatedGatewayOptions) {
    this.random = seeded(options.seed ?? 1);
    this.ledger = options.ledger ?? memoryLedger();
  }

  acceptsMethod(method: string): boolean {
    return isSimMethod(method);
  }

  /** The reference is derived from the payment id, so it is known before any charge. */
  referenceFor(paymentId: string): string {
    return `simpay_${paymentId}`;
  }

  /** Registers nothing: the reference is `referenceFor`'s (kept for callers of the interface). */
  async prepare(request: ChargeRequest): Promise<string> {
    return this.referenceFor(request.paymentId);
  }

  async charge(request: PreparedCharge): Promise<ChargeOutcome> {
    const { providerRef, method, paymentId } = request;
    if (!isSimMethod(method)) throw new Error(`assertion failed: unknown method ${method}`);
    if (method === 'sim_slow') await this.sleep(this.options.slowMs ?? 5_000);
    // The money moves (or not) here; an abandon that got in first has cancelled it.
    const stands = await this.ledger.record(paymentId, method, SimulatedGateway.decide(method));
    const outcome = SimulatedGateway.outcomeOf(stands, providerRef);
    const events = [this.outcomeEvent(paymentId, outcome)];
    if (stands !== 'cancelled' && (method === 'sim_async_ok' || method === 'sim_async_declined')) {
      events.push(this.event('payment.processing', { paymentId, providerRef }));
      this.send(events, this.options.asyncDelayMs ?? 1_500);
      return { status: 'pending', providerRef };
    }
    this.send(events, 50);
    return outcome;
  }

  async refund(request: RefundRequest): Promise<RefundOutcome> {
    const providerRef = `simre_${request.refundId}`;
    this.send([this.event('refund.succeeded', { refundId: request.refundId, providerRef })], 50);
    return { status: 'succeeded', providerRef };
  }

  /** The gateway's refunds always succeed, at once. */
  async refundStatus(query: RefundQuery): Promise<RefundOutcome | undefined> {
    return query.providerRef.startsWith('simre_')
      ? { status: 'succeeded', providerRef: query.providerRef }
      : undefined;
  }

  /** What the books say; a payment never charged is unknown (undefined), not declined. */
  async lookup(payment: PaymentQuery): Promise<ChargeOutcome | undefined> {
    const stands = await this.ledger.read(payment.paymentId);
    if (stands === undefined) return undefined;
    return SimulatedGateway.outcomeOf(stands,
      payment.providerRef ?? this.referenceFor(payment.paymentId));
  }

  /** Cancels a payment not yet charged; a charged one keeps its outcome. */
  async abandon(payment: PaymentQuery): Promise<ChargeOutcome | undefined> {
    const stands = await this.ledger.record(payment.paymentId, payment.method, 'cancelled');
    return SimulatedGateway.outcomeOf(stands,
      payment.providerRef ?? this.referenceFor(payment.paymentId));
  }

  verifyWebhook(rawBody: Buffer, headers: WebhookHeaders, nowMs: number): ProviderEvent {
    const header = headers[signatureHeader];
    verifySignature(this.options.secret, rawBody, typeof header === 'string' ? header : undefined,
      nowMs);
    let body: SimEventBody;
    try {
      body = JSON.parse(rawBody.toString('utf8')) as SimEventBody;
    } catch {
      throw new WebhookRejected('body is not JSON');
    }
    const { id, type, data } = body;
    if (typeof id !== 'string' || typeof type !== 'string' || typeof data !== 'object') {
      throw new WebhookRejected('not a gateway event');
    }
    const text = (value: unknown): string => {
      if (typeof value !== 'string') throw new WebhookRejected(`event ${type} lacks a field`);
      return value;
    };
    switch (type) {
      case 'payment.captured':
        return { id, type, paymentId: text(data.paymentId), providerRef: text(data.providerRef) };
      case 'payment.declined':
        return { id, type, paymentId: text(data.paymentId), providerRef: text(data.providerRef),
          reason: text(data.reason) };
      case 'payment.processing':
        return { id, type, paymentId: text(data.paymentId) };
      case 'refund.succeeded':
        return { id, type, refundId: text(data.refundId), providerRef: text(data.providerRef) };
      default:
        return { id, type: 'ignored', providerType: type };
    }
  }

  /** Signs an event body as the gateway would (tests build deliveries with it). */
  sign(body: string, timestampSeconds?: number): WebhookDelivery {
    const t = timestampSeconds ?? Math.floor(this.options.clock.nowMs() / 1000);
    return {
      body,
      headers: { 'content-type': 'application/json',
        [signatureHeader]: signPayload(this.options.secret, body, t) },
    };
  }

  /** Webhooks queued in manual mode, not yet delivered, signed now. */
  pending(): readonly WebhookDelivery[] {
    return this.queue.map((body) => this.sign(body));
  }

  /**
   * Delivers every queued webhook (manual mode), in queue order, one at a time, each signed
   * as it is sent.
   */
  async flush(): Promise<number> {
    let count = 0;
    for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
      await this.options.deliver(this.sign(next));
      count++;
    }
    return count;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.outgoing.length = 0;
  }

  private static decide(method: SimulatedMethod): SimulatedStatus {
    return method === 'sim_declined' || method === 'sim_async_declined' ? 'declined'
      : 'captured';
  }

  private static outcomeOf(stands: SimulatedStatus, providerRef: string):
    Exclude<ChargeOutcome, { status: 'pending' }> {
    if (stands === 'captured') return { status: 'captured', providerRef };
    return { status: 'declined', providerRef,
      reason: stands === 'cancelled' ? 'canceled' : 'card_declined' };
  }

  private outcomeEvent(
    paymentId: string, outcome: Exclude<ChargeOutcome, { status: 'pending' }>,
  ): string {
    const providerRef = outcome.providerRef ?? `simpay_${paymentId}`;
    return outcome.status === 'captured'
      ? this.event('payment.captured', { paymentId, providerRef })
      : this.event('payment.declined', { paymentId, providerRef, reason: outcome.reason });
  }

  private event(type: string, data: SimEventBody['data']): string {
    const body: SimEventBody = {
      id: `evt_${randomBytes(12).toString('hex')}`, type,
      created: Math.floor(this.options.clock.nowMs() / 1000), data,
    };
    return JSON.stringify(body);
  }

  /** Shuffles, duplicates and sends (or queues) the deliveries of one payment. */
  private send(bodies: string[], delayMs: number): void {
    const copies = this.options.duplicates === false ? bodies : bodies.flatMap((b) => [b, b]);
    for (let i = copies.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [copies[i], copies[j]] = [copies[j] as string, copies[i] as string];
    }
    if (this.options.manual === true) {
      this.queue.push(...copies);
      return;
    }
    copies.forEach((body, i) => this.later({ body, attempts: 0 }, delayMs + i * 20));
  }

  /** Puts a delivery in the outgoing queue after `delayMs`. */
  private later(delivery: Outgoing, delayMs: number): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.outgoing.push(delivery);
      this.pump();
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  /** Starts queued deliveries while slots are free; each is signed as it starts. */
  private pump(): void {
    const slots = this.options.deliveriesInFlight ?? limits.simulatedWebhookConnections;
    while (!this.closed && this.inFlight < slots) {
      const next = this.outgoing.shift();
      if (next === undefined) return;
      this.inFlight++;
      void this.attempt(next).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  /** One attempt; a failed one is queued again with backoff, up to `deliveryAttempts`. */
  private async attempt(delivery: Outgoing): Promise<void> {
    try {
      await this.options.deliver(this.sign(delivery.body));
    } catch {
      const attempts = delivery.attempts + 1;
      if (attempts >= deliveryAttempts) return;
      this.later({ body: delivery.body, attempts }, retryBaseMs * 2 ** (attempts - 1));
    }
  }

  private async sleep(ms: number): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
  }
}
