/**
 * Keeps the README's configuration table true: every variable the config module reads is
 * documented there, and the README documents no variable the code does not read.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const source = readFileSync(new URL('./index.ts', import.meta.url), 'utf8');
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

const read = new Set([...source.matchAll(/\(env, '([A-Z][A-Z0-9_]+)'/g)].map((m) => m[1]));
const documented = new Set([...readme.matchAll(/^\| `([A-Z][A-Z0-9_]+)`/gm)].map((m) => m[1]));

describe('README configuration table', () => {
  it('finds the variables in the config module', () => {
    expect(read.size).toBeGreaterThan(20);
    expect(read.has('DATABASE_URL')).toBe(true);
  });

  it('documents every variable the server reads', () => {
    expect([...read].filter((name) => !documented.has(name as string)).sort()).toEqual([]);
  });

  it('documents no variable the server does not read', () => {
    expect([...documented].filter((name) => !read.has(name as string)).sort()).toEqual([]);
  });
});
