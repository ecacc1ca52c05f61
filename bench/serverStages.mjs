// Where a request's time goes inside a `stampede serve` process, for bench/shoppers.ts.
// Loaded into the server with `node --import ./bench/serverStages.mjs dist/src/cli/main.js`;
// plain JavaScript, as the built server needs no TypeScript loader. Answers 'stats' and
// 'reset' over the IPC channel the bench opens.
//
// Each HTTP request gets a store (AsyncLocalStorage, entered when the socket's request is
// parsed), and everything it awaits is charged to it by stage: the pg pool's connect (the
// wait for a pooled connection), each statement on a connection (by a short label), each
// Redis command, and each group-commit batcher (the wait for the request's batch to start,
// then the batch's run). A batch runs in a store of its own, so its statement is charged
// to the batcher, not to whichever request happened to start it. Sums are per route and
// status; divide by the count for a mean.
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import diagnostics from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import pg from 'pg';

const als = new AsyncLocalStorage();
const routes = new Map();
const batchers = new Map();
const pools = new Set();
const poolSamples = { n: 0, waiting: 0, busy: 0, waitingMax: 0 };
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();
let cpu0 = processCpuMs();
let elu0 = performance.eventLoopUtilization();

function processCpuMs() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** A short, stable name for a statement. */
function label(sql) {
  const s = sql.replace(/\s+/g, ' ').trim();
  const known = /hold_batch|queue_join_batch|settle_batch|checkout_begin\w*|hold_lock_and_count|UPDATE queue_admissions a SET claimed_at|^BEGIN|^COMMIT|^ROLLBACK/i.exec(s);
  if (known) return known[0].replace(/ a SET claimed_at/, ' SET claimed_at (pass claim)');
  return s.slice(0, 56);
}

function add(sums, key, ms) {
  const e = sums.get(key);
  if (e === undefined) sums.set(key, { n: 1, ms });
  else { e.n++; e.ms += ms; }
}

/** Charges `ms` to the current store's `key` (request or batch). */
function charge(store, key, ms) {
  if (store === undefined) return;
  const phase = store.batch !== undefined || store.handlerAt !== undefined ? '' : 'pre: ';
  add(store.spans, phase + key, ms);
}

// ---- requests ----
diagnostics.subscribe('http.server.request.start', (message) => {
  const store = { start: performance.now(), spans: new Map(), raw: message.request };
  // Entered here, so the hooks before the handler (auth, rate limits) are charged too.
  als.enterWith(store);
  message.request.__stages = store;
});
diagnostics.tracingChannel('fastify.request.handler').subscribe({
  start(m) {
    const store = m.request.raw.__stages;
    if (store) {
      store.handlerAt = performance.now();
      store.route = `${m.request.method} ${m.request.routeOptions.url}`;
    }
  },
  asyncStart(m) {
    const store = m.request.raw.__stages;
    if (store) store.handledAt = performance.now();
  },
  end() {}, asyncEnd() {}, error() {},
});
diagnostics.subscribe('http.server.response.finish', (message) => {
  const store = message.request.__stages;
  if (store === undefined || store.route === undefined) return;
  const now = performance.now();
  const key = `${store.route} ${message.response.statusCode}`;
  let r = routes.get(key);
  if (r === undefined) {
    r = { n: 0, total: 0, pre: 0, handler: 0, post: 0, totals: [], spans: new Map() };
    routes.set(key, r);
  }
  r.n++;
  r.total += now - store.start;
  if (r.totals.length < 200_000) r.totals.push(now - store.start);
  r.pre += store.handlerAt - store.start;
  r.handler += (store.handledAt ?? now) - store.handlerAt;
  r.post += now - (store.handledAt ?? now);
  for (const [k, v] of store.spans) {
    const e = r.spans.get(k);
    if (e === undefined) r.spans.set(k, { n: v.n, ms: v.ms });
    else { e.n += v.n; e.ms += v.ms; }
  }
});

// ---- pg: the pool's connect (waiting for a connection) and statements on a connection ----
const poolProto = pg.Pool.prototype;
const connect = poolProto.connect;
poolProto.connect = function timedConnect(cb) {
  pools.add(this);
  const store = als.getStore();
  const t0 = performance.now();
  if (typeof cb === 'function') {
    // The callback of a waiter runs when another client is released: bind it to its caller.
    const bound = AsyncResource.bind((...args) => {
      charge(store, 'pg pool wait', performance.now() - t0);
      return cb(...args);
    });
    return connect.call(this, bound);
  }
  const result = connect.call(this);
  return result.then((client) => {
    charge(store, 'pg pool wait', performance.now() - t0);
    return client;
  });
};
const clientProto = pg.Client.prototype;
const query = clientProto.query;
clientProto.query = function timedQuery(...rest) {
  const [first] = rest;
  const sql = typeof first === 'string' ? first : first?.text;
  const store = als.getStore();
  if (sql === undefined || store === undefined) return query.apply(this, rest);
  const key = `pg ${label(sql)}`;
  const t0 = performance.now();
  const done = () => charge(store, key, performance.now() - t0);
  const callback = rest[rest.length - 1];
  if (typeof callback === 'function') {
    rest[rest.length - 1] = (...results) => {
      done();
      return callback(...results);
    };
    return query.apply(this, rest);
  }
  const result = query.apply(this, rest);
  if (result instanceof Promise) result.then(done, done);
  return result;
};

// ---- Redis ----
const send = Redis.prototype.sendCommand;
Redis.prototype.sendCommand = function timedSend(command, stream) {
  const store = als.getStore();
  const result = send.call(this, command, stream);
  if (store !== undefined && result instanceof Promise) {
    const t0 = performance.now();
    const done = () => charge(store, `redis ${command.name}`, performance.now() - t0);
    result.then(done, done);
  }
  return result;
};

// ---- group-commit batchers: a request's wait for its batch, and the batch's run ----
// The server's own copy of the module (STAGES_DIST: the dist/ it runs from).
const dist = process.env.STAGES_DIST ?? new URL('../dist', import.meta.url).pathname;
const { GroupCommit } = await import(`${dist}/src/core/groupCommit.js`);
const submit = GroupCommit.prototype.submit;
const runBatch = GroupCommit.prototype.run;
const names = new WeakMap();
let batcherCount = 0;
const submittedAt = new WeakMap();
GroupCommit.prototype.submit = function timedSubmit(key, item) {
  const store = als.getStore();
  if (!names.has(this)) names.set(this, `${store?.route ?? 'background'} #${++batcherCount}`);
  const name = names.get(this);
  const t0 = performance.now();
  if (typeof item === 'object' && item !== null) submittedAt.set(item, { t0, store });
  const result = submit.call(this, key, item);
  return result.finally(() => {
    const marks = typeof item === 'object' && item !== null ? submittedAt.get(item) : undefined;
    const startedAt = marks?.batchAt ?? t0;
    charge(store, `batch wait (${name})`, startedAt - t0);
    charge(store, `batch run (${name})`, performance.now() - startedAt);
  });
};
GroupCommit.prototype.run = function timedRun(key, queue, batch) {
  const name = names.get(this) ?? 'unnamed';
  const now = performance.now();
  for (const member of batch) {
    const marks = typeof member.item === 'object' ? submittedAt.get(member.item) : undefined;
    if (marks !== undefined) marks.batchAt = now;
  }
  const store = { batch: name, spans: new Map() };
  return als.run(store, () => runBatch.call(this, key, queue, batch)).finally(() => {
    let b = batchers.get(name);
    if (b === undefined) {
      b = { batches: 0, members: 0, ms: 0, spans: new Map() };
      batchers.set(name, b);
    }
    b.batches++;
    b.members += batch.length;
    b.ms += performance.now() - now;
    for (const [k, v] of store.spans) add(b.spans, k, v.ms);
  });
};

// ---- pool occupancy, sampled ----
setInterval(() => {
  for (const pool of pools) {
    poolSamples.n++;
    poolSamples.waiting += pool.waitingCount;
    poolSamples.busy += pool.totalCount - pool.idleCount;
    poolSamples.waitingMax = Math.max(poolSamples.waitingMax, pool.waitingCount);
  }
}, 20).unref();

function toObject(map) {
  return Object.fromEntries([...map].map(([k, v]) => [k, v]));
}

process.on('message', (message) => {
  if (message === 'reset') {
    routes.clear();
    batchers.clear();
    Object.assign(poolSamples, { n: 0, waiting: 0, busy: 0, waitingMax: 0 });
    lag.reset();
    cpu0 = processCpuMs();
    elu0 = performance.eventLoopUtilization();
    process.send?.({ kind: 'reset' });
    return;
  }
  if (message !== 'stats') return;
  const elu = performance.eventLoopUtilization(elu0);
  process.send?.({
    kind: 'stats',
    cpuMs: processCpuMs() - cpu0,
    elu: elu.utilization,
    lagMeanMs: lag.mean / 1e6, lagP99Ms: lag.percentile(99) / 1e6,
    pool: poolSamples,
    routes: Object.fromEntries([...routes].map(([k, r]) => [k, {
      ...r, totals: undefined, spans: toObject(r.spans),
      p50: percentile(r.totals, 50), p99: percentile(r.totals, 99),
    }])),
    batchers: Object.fromEntries([...batchers].map(([k, b]) => [k, { ...b, spans: toObject(b.spans) }])),
  });
});

function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
