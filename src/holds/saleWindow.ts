/**
 * The sale window of an event: holds are taken from `onSaleAt` until the event starts. The
 * hold transaction decides it by the database clock (nodes with skewed clocks agree); the
 * route may refuse earlier by its own clock only when the answer cannot be close.
 */
import type { EventRecord } from '../catalog/events.js';
import { limits } from '../config/limits.js';
import { DomainError } from '../core/errors.js';

/** Throws not_on_sale unless `nowMs` (the database clock) is inside the sale window. */
export function assertSaleOpen(event: EventRecord, nowMs: number): void {
  if (event.cancelled) throw new DomainError('not_on_sale', 'the event was cancelled');
  if (nowMs < event.onSaleAtMs) {
    throw new DomainError('not_on_sale', 'the sale has not started',
      { onSaleAt: new Date(event.onSaleAtMs).toISOString() });
  }
  if (nowMs >= event.startsAtMs) throw new DomainError('not_on_sale', 'the event has started');
}

/**
 * A cheap refusal by a node's clock, before any transaction: only when the sale opens more
 * than the clock margin from now, or the event started more than that long ago. Anything
 * nearer is left to the database clock inside the hold transaction.
 */
export function assertSaleMayBeOpen(event: EventRecord, nodeNowMs: number): void {
  if (event.cancelled) throw new DomainError('not_on_sale', 'the event was cancelled');
  const marginMs = limits.saleClockMarginMs;
  if (nodeNowMs < event.onSaleAtMs - marginMs) assertSaleOpen(event, nodeNowMs);
  if (nodeNowMs >= event.startsAtMs + marginMs) assertSaleOpen(event, nodeNowMs);
}

/**
 * True for a `not_on_sale` refusal because the sale is over (the event started or was
 * cancelled), not because it has yet to open: only the former can follow a hold that was
 * answered. A not-yet-open refusal names `onSaleAt` (here and in holds.ts).
 */
export function isSaleOverRefusal(error: unknown): boolean {
  return error instanceof DomainError && error.code === 'not_on_sale'
    && !('onSaleAt' in error.extra);
}
