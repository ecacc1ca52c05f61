/**
 * This node's streams of one kind (queue, notifications): the open connections (ended when
 * the app closes, so shutdown is not held up) and the slots reserved per customer. A slot
 * is reserved synchronously, before the handler's first await, so a burst of requests
 * cannot all pass the caps while the first ones are still being set up.
 */
import type { FastifyReply } from 'fastify';
import { DomainError, type ErrorCode } from '../core/errors.js';
import type { SseConnection } from './sse.js';
import type { App } from './types.js';

// Streams are refused only while others are open; a few seconds is a fair guess.
const retryAfterSeconds = 5;

/** The answers when a cap is hit, and what the per-owner cap counts (a customer, an address). */
export interface SlotRefusals {
  nodeFull: ErrorCode;
  ownerOver: ErrorCode;
  owner: string;
}

const customerRefusals: SlotRefusals = {
  nodeFull: 'service_unavailable', ownerOver: 'rate_limited', owner: 'customer',
};

/** Open streams of one kind on this node, with per-node and per-owner caps. */
export class StreamSlots {
  readonly open = new Set<SseConnection>();
  private total = 0;
  private readonly perCustomer = new Map<string, number>();

  constructor(
    private readonly label: string, private readonly refusals: SlotRefusals = customerRefusals,
  ) {}

  /** How many slots are taken on this node right now. */
  get taken(): number {
    return this.total;
  }

  /**
   * Takes a slot, returning its release (idempotent), or throws: 503 when the node is
   * full, 429 when this customer already has `maxPerCustomer` streams here.
   */
  reserve(
    customerId: string, maxTotal: number, maxPerCustomer: number, reply: FastifyReply,
  ): () => void {
    const { nodeFull, ownerOver, owner } = this.refusals;
    if (this.total >= maxTotal) {
      reply.header('retry-after', String(retryAfterSeconds));
      throw new DomainError(nodeFull, `this node has no room for another ${this.label} stream`,
        { retryAfterSeconds });
    }
    const mine = this.perCustomer.get(customerId) ?? 0;
    if (mine >= maxPerCustomer) {
      reply.header('retry-after', String(retryAfterSeconds));
      throw new DomainError(ownerOver,
        `at most ${maxPerCustomer} open ${this.label} streams per ${owner}; close one first`,
        { retryAfterSeconds });
    }
    this.total += 1;
    this.perCustomer.set(customerId, mine + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.total -= 1;
      const left = (this.perCustomer.get(customerId) ?? 1) - 1;
      if (left > 0) this.perCustomer.set(customerId, left);
      else this.perCustomer.delete(customerId);
    };
  }
}

// Keyed by the node's HTTP server, which the root app and every encapsulated plugin
// context share: route modules and their callers see the same slots.
const slotsByServer = new WeakMap<App['server'], Map<string, StreamSlots>>();

/** The app's slots for streams of one kind. */
export function streamSlots(app: App, label: string): StreamSlots {
  let byLabel = slotsByServer.get(app.server);
  if (byLabel === undefined) {
    byLabel = new Map();
    slotsByServer.set(app.server, byLabel);
  }
  let slots = byLabel.get(label);
  if (slots === undefined) {
    slots = new StreamSlots(label);
    byLabel.set(label, slots);
  }
  return slots;
}
