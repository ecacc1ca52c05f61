/** Every problem code a fan can meet has its own message, not the generic fallback. */
import { describe, expect, it } from 'vitest';
import { errorCatalogue } from '@server/core/errors';
import { copy, problemMessage, problemMessages } from './copy';

// Codes only machines or organizers see (webhooks, media types) may use the server's detail.
const notFanFacing = new Set(['invalid_signature', 'unsupported_media_type',
  'already_checked_in']);

describe('problem messages', () => {
  it('cover every catalogued code a fan can meet', () => {
    const missing = Object.keys(errorCatalogue)
      .filter((code) => !notFanFacing.has(code))
      .filter((code) => !(code in problemMessages));
    expect(missing).toEqual([]);
  });

  it('fall back to the server detail, then to a generic message', () => {
    expect(problemMessage('hold_expired')).toMatch(/ran out/);
    expect(problemMessage('some_new_code', 'server says')).toBe('server says');
    expect(problemMessage('some_new_code')).toBe(copy.problems.fallback);
  });
});
