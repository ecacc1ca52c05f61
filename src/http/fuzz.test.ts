/**
 * Schema-driven fuzz of every route (SPEC §2 invariant 7). The routes and their schemas
 * come from the app's own OpenAPI document, so a new route is fuzzed without touching this
 * file. For each request fast-check builds a body, path parameters and a query string from
 * the route's schemas: valid ones, and near-valid ones (a required member dropped, a value
 * of the wrong type, an unknown member, a string past its maximum, a number out of range,
 * prototype keys, a body that is not an object), with odd headers (content types, broken
 * or foreign tokens, long idempotency keys). Authentication is sometimes the admin's,
 * sometimes a customer's, sometimes nothing or garbage, and ids are sometimes real ones,
 * so requests get past the gates.
 *
 * Every answer is below 500, and a 4xx changes nothing: a fingerprint of every table is
 * the same before and after. Bounded (FUZZ_RUNS, 150 by default) on embedded PGlite.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import type { App } from './types.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { adminHeaders, buildTestApp } from '../testing/context.js';
import { buildCustomer, buildEvent, buildHold } from '../testing/factories.js';

const seed = Number(process.env.FC_SEED ?? Math.floor(Math.random() * 2 ** 31));
const numRuns = Number(process.env.FUZZ_RUNS ?? 150);

/** The JSON Schema subset TypeBox emits for these routes. */
interface Schema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  oneOf?: Schema[];
  anyOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
}

/** Values that satisfy `schema` (as far as the subset goes; a miss is just near-valid). */
function valid(schema: Schema, depth = 0): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum !== undefined) return fc.constantFrom(...schema.enum);
  const choices = schema.oneOf ?? schema.anyOf;
  if (choices !== undefined) return fc.oneof(...choices.map((c) => valid({ ...schema, oneOf:
    undefined, anyOf: undefined, ...c }, depth)));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string': return validString(schema);
    case 'integer': return fc.integer({
      min: Math.max(schema.minimum ?? -1_000_000, Number.MIN_SAFE_INTEGER),
      max: Math.min(schema.maximum ?? 1_000_000, Number.MAX_SAFE_INTEGER) });
    case 'number': return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6,
      noNaN: true, noDefaultInfinity: true });
    case 'boolean': return fc.boolean();
    case 'null': return fc.constant(null);
    case 'array': {
      if (depth > 4) return fc.constant([]);
      const items = valid(schema.items ?? {}, depth + 1);
      const constraints = { minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 4, (schema.minItems ?? 0) + 4) };
      return schema.uniqueItems === true
        ? fc.uniqueArray(items, { ...constraints, selector: (v) => JSON.stringify(v) })
        : fc.array(items, constraints);
    }
    case 'object': {
      if (depth > 4) return fc.constant({});
      const properties = schema.properties ?? {};
      const required = schema.required ?? [];
      return fc.record(Object.fromEntries(Object.entries(properties)
        .map(([key, sub]) => [key, valid(sub, depth + 1)])),
      { requiredKeys: required.filter((key) => key in properties) });
    }
    default: return fc.jsonValue({ maxDepth: 2 });
  }
}

function validString(schema: Schema): fc.Arbitrary<string> {
  const maxLength = Math.min(schema.maxLength ?? 40, 60);
  const minLength = Math.min(schema.minLength ?? 0, maxLength);
  if (schema.format === 'uuid') return fc.uuid();
  if (schema.format === 'email') return fc.emailAddress();
  if (schema.format === 'date-time') {
    return fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
      .map((d) => d.toISOString());
  }
  if (schema.pattern !== undefined) {
    return fc.stringMatching(new RegExp(schema.pattern))
      .filter((s) => s.length >= minLength && s.length <= (schema.maxLength ?? Infinity));
  }
  return fc.string({ minLength, maxLength, unit: 'grapheme' });
}

const anyJson = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }),
  fc.constant('x'.repeat(5_000)), fc.constant(-1), fc.constant(2 ** 53), fc.constant(''));

/** A valid value bent in one place: what a sloppy or hostile client sends. */
function nearValid(schema: Schema): fc.Arbitrary<unknown> {
  const properties = schema.properties ?? {};
  const keys = Object.keys(properties);
  return fc.tuple(valid(schema), fc.nat(), anyJson, fc.nat({ max: 7 })).map(
    ([value, which, junk, how]) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return junk;
      const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
      const key = keys.length > 0 ? keys[which % keys.length] as string : 'x';
      const sub = properties[key] ?? {};
      switch (how) {
        case 0: delete out[key]; break; // a required member missing (or an optional one)
        case 1: out[key] = junk; break; // a value of another type
        case 2: out[`unknown_${which % 5}`] = junk; break;
        case 3: out[key] = 'z'.repeat((sub.maxLength ?? 200) + 1); break;
        case 4: out[key] = (sub.maximum ?? 1e9) + 1; break;
        case 5: out[key] = (sub.minimum ?? -1e9) - 1; break;
        case 6: return JSON.parse(`{"__proto__": {"admin": true}, "constructor": {"prototype":
          {"polluted": 1}}, ${JSON.stringify(out).slice(1)}`.replace(', }', '}'));
        default: return junk;
      }
      return out;
    });
}

interface Parameter { in: string; name: string; required?: boolean; schema?: Schema }
interface Operation {
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  security?: unknown[];
}

/** Routes that stream (SSE, WebSocket) stay open by design; they are not fuzzed here. */
const streaming = /\/(stream|live|ws)$/;

/** Routes for organizers and door staff (the admin token); the rest are for customers. */
function adminRoute(route: { method: string; path: string }): boolean {
  return route.path.includes('/admin/') || route.path.includes('/checkins')
    || (route.method === 'POST' && /^\/api\/v1\/(venues|events)$|\/cancel$/.test(route.path)
      && !route.path.startsWith('/api/v1/orders'));
}

describe('every route fuzzed from its own schema', () => {
  let db: Db;
  let app: App;
  let ctx: AppContext;
  let routes: { method: string; path: string; op: Operation }[] = [];
  const ids: Record<string, string[]> = {};
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    const [pglite] = await testBackends();
    db = await (pglite as NonNullable<typeof pglite>).open();
    ({ app, ctx } = await buildTestApp(db));
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, Operation>> };
    routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, op,
        // A counterexample prints the route's name, not its whole schema.
        [fc.toStringMethod]: () => `${method.toUpperCase()} ${path}` })))
      .filter((route) => !streaming.test(route.path));
    // Real ids, so requests get past "not found" to the code behind it.
    const event = await buildEvent(ctx);
    ids.eventId = [event.eventId];
    ids.venueId = [event.venueId];
    ids.orderId = [];
    ids.provider = ['simulated', 'stripe'];
    tokens.admin = adminHeaders.authorization;
    await newFan();
  });

  /** A customer with a live hold; again after a fuzzed logout revoked the last one. */
  async function newFan(): Promise<void> {
    const fan = await buildCustomer(ctx);
    const seat = `A-${1 + (Object.keys(tokens).length % 5)}-${1 + Math.floor(Math.random() * 10)}`;
    const hold = await buildHold(ctx, ids.eventId?.[0] as string, fan.customerId,
      { seats: [seat] }).catch(() => undefined);
    ids.holdId = hold === undefined ? [] : [hold.holdId];
    tokens.customer = `Bearer ${fan.token}`;
  }
  afterAll(async () => {
    await app?.close();
    await db?.close();
  });

  /** Every table's content, hashed: equal before and after means nothing changed. */
  let fingerprintSql = '';
  async function fingerprint(): Promise<Record<string, string>> {
    if (fingerprintSql === '') {
      const { rows: tables } = await db.query<{ name: string }>(
        `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
      // One statement for all tables: a round trip per table made each request slow.
      fingerprintSql = tables.map(({ name }) => `SELECT '${name}' AS name,
        (SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM "${name}" t) AS h`)
        .join(' UNION ALL ');
    }
    const { rows } = await db.query<{ name: string; h: string | null }>(fingerprintSql);
    return Object.fromEntries(rows.map((row) => [row.name, row.h ?? 'empty']));
  }

  const junkText = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('..', '%00', ' ',
    '%2e%2e%2f', 'null', '-1', '1e999', 'A'.repeat(300), '00000000-0000-0000-0000-000000000000'));

  const requests = () => fc.nat().chain((n) => {
    const route = routes[n % routes.length] as (typeof routes)[number];
    const params = route.op.parameters ?? [];
    const pathParams = params.filter((p) => p.in === 'path');
    const query = params.filter((p) => p.in === 'query');
    const bodySchema = route.op.requestBody?.content?.['application/json']?.schema;
    return fc.record({
      route: fc.constant(route),
      path: fc.tuple(...pathParams.map((p) => fc.oneof(
        { weight: 3, arbitrary: (ids[p.name]?.length ?? 0) > 0
          ? fc.constantFrom(...(ids[p.name] as string[])) : valid(p.schema ?? {}) },
        { weight: 1, arbitrary: valid(p.schema ?? {}) },
        { weight: 1, arbitrary: junkText })).concat(fc.constant('') as never)),
      query: fc.tuple(
        fc.record(Object.fromEntries(query.map((p) =>
          [p.name, fc.oneof(valid(p.schema ?? {}), junkText)])), { requiredKeys: [] }),
        fc.dictionary(fc.constantFrom('limit', 'cursor', 'x', '__proto__', 'q[]'), junkText,
          { maxKeys: 2 })),
      body: bodySchema === undefined
        ? fc.option(anyJson, { nil: undefined })
        : fc.oneof(valid(bodySchema), nearValid(bodySchema), nearValid(bodySchema)),
      // Mostly the token the route is for, so requests reach the code behind the gate.
      auth: fc.oneof({ weight: 4, arbitrary: fc.constant(adminRoute(route) ? 'admin' : 'customer') },
        { weight: 2, arbitrary: fc.constantFrom('admin', 'customer', 'none', 'garbage',
          'basic') }),
      contentType: fc.constantFrom('application/json', 'application/json', 'application/json',
        'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x', 'application/json; charset=utf-16', ''),
      idempotencyKey: fc.option(fc.oneof(fc.uuid(), fc.string({ maxLength: 300 }),
        fc.constant('k'.repeat(1_000))), { nil: undefined }),
      extra: fc.dictionary(fc.constantFrom('x-queue-pass', 'accept', 'x-forwarded-for',
        'accept-encoding', 'origin'), fc.string({ maxLength: 40 }).map((s) =>
        s.replace(/[^\x20-\x7e]/g, '')), { maxKeys: 2 }),
    });
  });

  it('never answers 5xx, and a 4xx changes nothing', async () => {
    const seen = new Map<number, number>();
    console.info(`[fuzz] seed ${seed}, ${numRuns} requests over ${routes.length} routes`);
    await fc.assert(fc.asyncProperty(requests(), async (r) => {
      let url = r.route.path;
      const pathParams = (r.route.op.parameters ?? []).filter((p) => p.in === 'path');
      for (const [i, p] of pathParams.entries()) {
        url = url.replace(`{${p.name}}`, encodeURIComponent(String(r.path[i])));
      }
      const search = new URLSearchParams();
      for (const [key, value] of [...Object.entries(r.query[0]), ...Object.entries(r.query[1])]) {
        search.append(key, String(value));
      }
      if (search.size > 0) url += `?${search.toString()}`;
      const headers: Record<string, string> = { ...r.extra };
      const auth = { admin: tokens.admin, customer: tokens.customer, none: undefined,
        garbage: 'Bearer not.a.token', basic: 'Basic YWRtaW46YWRtaW4=' }[r.auth];
      if (auth !== undefined) headers.authorization = auth;
      if (r.idempotencyKey !== undefined) headers['idempotency-key'] = r.idempotencyKey;
      const hasBody = r.route.method !== 'GET' && r.body !== undefined;
      if (hasBody && r.contentType !== '') headers['content-type'] = r.contentType;
      const before = await fingerprint();
      const response = await app.inject({ method: r.route.method as 'GET', url, headers,
        ...(hasBody ? { payload: JSON.stringify(r.body) } : {}) });
      seen.set(response.statusCode, (seen.get(response.statusCode) ?? 0) + 1);
      if (r.route.path === '/api/v1/sessions' && response.statusCode < 300) await newFan();
      const what = `${r.route.method} ${url} ${hasBody ? JSON.stringify(r.body).slice(0, 300)
        : ''} → ${response.statusCode} ${response.body.slice(0, 300)}`;
      expect(response.statusCode, what).toBeLessThan(500);
      if (response.statusCode >= 400) {
        expect(await fingerprint(), what).toEqual(before);
        // A precise problem document, never a bare string.
        expect(response.headers['content-type'], what).toMatch(/application\/problem\+json/);
      }
    }), { numRuns, seed, verbose: 1 });
    console.info(`  statuses: ${[...seen.entries()].sort().map(([s, n]) => `${s}×${n}`)
      .join(' ')}`);
    // The fuzz reached past the gates: some requests succeeded, some were refused.
    expect([...seen.keys()].some((s) => s < 300)).toBe(true);
    expect([...seen.keys()].some((s) => s >= 400)).toBe(true);
  });
});
