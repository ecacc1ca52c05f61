/** Fails when the committed API types no longer match the server's OpenAPI document. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateApiTypes, schemaFile } from './api-types.js';

describe('generated API types', () => {
  it('match the server (run `npm run api:types` after changing a route schema)', async () => {
    const committed = readFileSync(schemaFile, 'utf8');
    expect(committed === await generateApiTypes()).toBe(true);
  });
});
