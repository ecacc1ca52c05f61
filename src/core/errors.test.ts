import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DomainError, errorCatalogue, invalid, type ErrorCode } from './errors.js';

const doc = readFileSync(new URL('../../docs/ERRORS.md', import.meta.url), 'utf8');

describe('error catalogue', () => {
  it.each(Object.entries(errorCatalogue))('documents %s with its status', (code, entry) => {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
    expect(row, `docs/ERRORS.md has no row for ${code}`).toBeDefined();
    expect(row).toContain(`| ${entry.status} |`);
  });

  it('documents no code that does not exist', () => {
    const documented = [...doc.matchAll(/^\| `([a-z_]+)` \|/gm)].map((match) => match[1]);
    expect(documented.sort()).toEqual(Object.keys(errorCatalogue).sort());
  });

  it('covers every code the product contract names', () => {
    const spec: ErrorCode[] = ['validation_failed', 'unauthorized', 'invalid_credentials',
      'forbidden', 'not_on_sale', 'queue_pass_required', 'not_found', 'email_taken',
      'seats_unavailable', 'insufficient_inventory', 'hold_expired', 'idempotency_conflict',
      'extension_used', 'already_checked_in', 'limit_exceeded', 'payload_too_large',
      'rate_limited'];
    for (const code of spec) expect(errorCatalogue[code]).toBeDefined();
  });

  it('builds domain errors with the catalogued status and field details', () => {
    const error = invalid('/zones/0/key', 'duplicate zone');
    expect(error).toBeInstanceOf(DomainError);
    expect(error.status).toBe(400);
    expect(error.extra.errors).toEqual([{ in: 'body', field: '/zones/0/key',
      message: 'duplicate zone' }]);
    expect(new DomainError('rate_limited').retryable).toBe(true);
  });
});
