/** The hold call's patience with a busy store: retried after Retry-After, nothing else. */
import { describe, expect, it } from 'vitest';
import { limits } from '@server/config/limits';
import { ApiProblem } from '../../../lib/api/client';
import { retryWhileBusy } from './holds';

const busy = (retryAfterSeconds?: number) => new ApiProblem(503, {
  code: 'service_unavailable', ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
});

describe('a hold while the store is busy', () => {
  it('waits Retry-After, tells the page, and tries again until it is answered', async () => {
    const waits: number[] = [];
    const told: [number, number][] = [];
    const answers: (ApiProblem | string)[] = [busy(3), busy(), 'held'];
    const result = await retryWhileBusy(async () => {
      const next = answers.shift();
      if (next instanceof ApiProblem) throw next;
      return next;
    }, {
      wait: async (ms) => void waits.push(ms),
      onBusy: (seconds, retry) => void told.push([seconds, retry]),
    });
    expect(result).toBe('held');
    expect(waits).toEqual([3_000, 2_000]);
    expect(told).toEqual([[3, 1], [2, 2]]);
  });

  it('does not retry any other refusal', async () => {
    let calls = 0;
    const taken = new ApiProblem(409, { code: 'seats_unavailable' });
    await expect(retryWhileBusy(async () => {
      calls += 1;
      throw taken;
    }, { wait: async () => undefined })).rejects.toBe(taken);
    expect(calls).toBe(1);
  });

  it('gives up after the limit and shows the refusal', async () => {
    let calls = 0;
    await expect(retryWhileBusy(async () => {
      calls += 1;
      throw busy(1);
    }, { wait: async () => undefined })).rejects.toMatchObject({ code: 'service_unavailable' });
    expect(calls).toBe(limits.webHoldBusyRetriesMax + 1);
  });
});
