/**
 * What a hot write's three rate-limit buckets cost the node on Redis: the same takes as one
 * `consumeEach` call (one script call) against three `consume` calls in flight together
 * (one EVALSHA write each, as before 2026-11-27), alternated in one process so both sides
 * see the same load. Reports the main thread's CPU per request (three buckets) from /proc.
 * Run with `npx tsx bench/rateLimitTakes.ts [rounds] [requests per round] [in flight]`.
 */
import { randomUUID } from 'node:crypto';

import { createRedisCoordinator } from '../src/coord/index.js';
import { perMinute } from '../src/http/ratelimit.js';
import { deleteRedisPrefix, testRedisUrl } from '../src/testing/services.js';
import { threadCpuMs } from './cpuProfile.js';

const rounds = Number(process.argv[2] ?? 6);
const requests = Number(process.argv[3] ?? 20_000);
const inFlight = Number(process.argv[4] ?? 32);

const prefix = `bench:rltakes:${randomUUID().slice(0, 8)}:`;
const coord = createRedisCoordinator({ url: testRedisUrl, prefix, name: 'rl-takes' });
const limit = perMinute(1_000_000_000);
const addresses = Array.from({ length: 64 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);

function takesFor(i: number): { bucket: string; limit: typeof limit }[] {
  const ip = addresses[i % addresses.length] as string;
  return [
    { bucket: coord.keys.global(`rl:writes:ip:${ip}`), limit },
    { bucket: coord.keys.global(`rl:join:ip:${ip}`), limit },
    { bucket: coord.keys.global(`rl:join:c:${i % 5_000}`), limit },
  ];
}

const sides = {
  async separate(i: number): Promise<void> {
    await Promise.all(takesFor(i).map(({ bucket, limit: l }) => coord.consume(bucket, l)));
  },
  async together(i: number): Promise<void> {
    await coord.consumeEach(takesFor(i));
  },
};

async function run(side: keyof typeof sides): Promise<{ cpuUs: number; wallMs: number }> {
  let next = 0;
  const cpu0 = threadCpuMs();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < requests) await sides[side](next++);
  }));
  return { cpuUs: ((threadCpuMs() - cpu0) * 1000) / requests, wallMs: performance.now() - t0 };
}

await run('together');
await run('separate');
const figures: Record<string, number[]> = { separate: [], together: [] };
for (let round = 0; round < rounds; round++) {
  for (const side of round % 2 === 0 ? ['separate', 'together'] as const
    : ['together', 'separate'] as const) {
    const { cpuUs, wallMs } = await run(side);
    (figures[side] as number[]).push(cpuUs);
    console.log(`round ${round + 1} ${side.padEnd(8)} ${cpuUs.toFixed(1).padStart(6)} µs CPU ` +
      `per request, ${((requests / wallMs) * 1000).toFixed(0)} requests/s`);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? 0;
console.log(`median CPU per request: separate ${median(figures.separate ?? []).toFixed(1)} µs, ` +
  `together ${median(figures.together ?? []).toFixed(1)} µs`);
await coord.close();
await deleteRedisPrefix(prefix);
