/** Every problem code a fan can meet has its own message, not the generic fallback. */
import { describe, expect, it } from 'vitest';
import { errorCatalogue } from '@server/core/errors';
import { copy, problemMessage, problemMessages } from './copy';

// Codes only machines, organizers or door staff meet (their pages show the server's detail
// or their own copy). Every other catalogued code is one a fan can meet, so a code added to
// the catalogue later fails this test until it has a message.
const notFanFacing = ['invalid_signature', 'upgrade_required', 'unsupported_media_type',
  'already_checked_in'];

describe('problem messages', () => {
  it('cover every catalogued code a fan can meet', () => {
    expect(notFanFacing.filter((code) => !(code in errorCatalogue))).toEqual([]);
    const fanFacing = Object.keys(errorCatalogue).filter((code) => !notFanFacing.includes(code));
    expect(fanFacing.filter((code) => !(code in problemMessages))).toEqual([]);
  });

  it('fall back to the server detail, then to a generic message', () => {
    expect(problemMessage('hold_expired')).toMatch(/ran out/);
    expect(problemMessage('some_new_code', 'server says')).toBe('server says');
    expect(problemMessage('some_new_code')).toBe(copy.problems.fallback);
  });
});
