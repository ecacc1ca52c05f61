/**
 * Key and channel naming for the coordination store.
 *
 * Everything lives under one prefix (`stampede:` by default) so a shared Redis can be
 * inspected, flushed or split by prefix, and so parallel test files that each pick a
 * random prefix never see each other's keys. Event-scoped names carry the event id in a
 * Redis Cluster hash tag (`{ev:<id>}`), so every key of one event hashes to the same slot
 * and multi-key scripts keep working when Redis runs as a cluster.
 */
import assert from 'node:assert/strict';

/** The prefix used when none is configured. */
export const DEFAULT_PREFIX = 'stampede:';

// Glob characters would make the prefix unusable in SCAN MATCH; braces would break hash tags.
const PREFIX_PATTERN = /^[A-Za-z0-9_.:-]+$/;

/** Builds every name the coordinator uses from one prefix. */
export interface Keyspace {
  readonly prefix: string;
  /** A key or channel scoped to one event: `<prefix>{ev:<eventId>}:<suffix>`. */
  event(eventId: string, suffix: string): string;
  /** A key or channel not tied to an event: `<prefix><suffix>`. */
  global(suffix: string): string;
  /** One of the two keys of a lease; the hash tag keeps both in one cluster slot. */
  lease(name: string, part: 'holder' | 'fence'): string;
  /** True when `name` belongs to this keyspace (guards against unprefixed raw keys). */
  owns(name: string): boolean;
}

/** True when `prefix` can prefix every key and channel (configuration validates with it). */
export function isKeyPrefix(prefix: string): boolean {
  return PREFIX_PATTERN.test(prefix);
}

function assertPrefix(prefix: string): void {
  assert.ok(isKeyPrefix(prefix), `invalid coordination key prefix: ${prefix}`);
}

// The messages are built only on failure: these run for every name a request builds.
function assertTagPart(what: string, value: string): void {
  if (value.length === 0) assert.fail(`${what} must not be empty`);
  if (value.includes('{') || value.includes('}')) {
    assert.fail(`${what} must not contain braces: ${value}`);
  }
}

function assertSuffix(suffix: string): void {
  if (suffix.length === 0) assert.fail('key suffix must not be empty');
}

/** An event-scoped key or channel, e.g. `stampede:{ev:42}:queue:seq`. */
export function eventKey(eventId: string, suffix: string, prefix = DEFAULT_PREFIX): string {
  assertPrefix(prefix);
  assertTagPart('event id', eventId);
  assertSuffix(suffix);
  return `${prefix}{ev:${eventId}}:${suffix}`;
}

/** A key or channel not tied to one event, e.g. `stampede:ratelimit:ip:1.2.3.4`. */
export function globalKey(suffix: string, prefix = DEFAULT_PREFIX): string {
  assertPrefix(prefix);
  assertSuffix(suffix);
  return `${prefix}${suffix}`;
}

/**
 * A keyspace bound to one prefix; each coordinator exposes its own as `coord.keys`. The
 * prefix is checked once, here: its names are built on every request (a join builds five),
 * so they do not test it again.
 */
export function createKeyspace(prefix = DEFAULT_PREFIX): Keyspace {
  assertPrefix(prefix);
  return {
    prefix,
    event: (eventId, suffix) => {
      assertTagPart('event id', eventId);
      assertSuffix(suffix);
      return `${prefix}{ev:${eventId}}:${suffix}`;
    },
    global: (suffix) => {
      assertSuffix(suffix);
      return `${prefix}${suffix}`;
    },
    lease: (name, part) => {
      assertTagPart('lease name', name);
      return `${prefix}{lease:${name}}:${part}`;
    },
    owns: (name) => name.startsWith(prefix) && name.length > prefix.length,
  };
}
