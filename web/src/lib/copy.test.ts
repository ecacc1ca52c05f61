/** Every problem code a fan can meet has its own message, not the generic fallback. */
import { describe, expect, it } from 'vitest';
import { errorCatalogue } from '@server/core/errors';
import { copy, problemMessage, problemMessages } from './copy';

// The codes a fan's pages can be answered with. Codes added later (or only machines and
// organizers see, like webhook signatures) fall back to the server's detail.
const fanFacing = ['validation_failed', 'unauthorized', 'invalid_credentials', 'forbidden',
  'not_on_sale', 'queue_pass_required', 'proof_of_work_required', 'not_found', 'email_taken',
  'seats_unavailable', 'insufficient_inventory', 'hold_expired', 'idempotency_conflict',
  'extension_used', 'hold_purchased', 'payment_pending', 'not_cancellable', 'limit_exceeded',
  'payload_too_large', 'rate_limited', 'internal_error', 'service_unavailable'];

describe('problem messages', () => {
  it('cover every catalogued code a fan can meet', () => {
    expect(fanFacing.filter((code) => !(code in errorCatalogue))).toEqual([]);
    expect(fanFacing.filter((code) => !(code in problemMessages))).toEqual([]);
  });

  it('fall back to the server detail, then to a generic message', () => {
    expect(problemMessage('hold_expired')).toMatch(/ran out/);
    expect(problemMessage('some_new_code', 'server says')).toBe('server says');
    expect(problemMessage('some_new_code')).toBe(copy.problems.fallback);
  });
});
