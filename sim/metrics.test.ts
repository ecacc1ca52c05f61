/** A store's "busy" (503 with Retry-After, retried) is counted apart from failures. */
import { describe, expect, it } from 'vitest';
import { Recorder } from './metrics.js';

describe('step summaries', () => {
  it('count 503s as busy, and no reply or other 5xx as errors', () => {
    const recorder = new Recorder();
    for (const status of [201, 503, 503, 201, 500, 0, 409]) {
      recorder.latency('hold best available', 5, status);
    }
    const [summary] = recorder.steps();
    expect(summary).toMatchObject({ step: 'hold best available', count: 7, errors: 2, busy: 2 });
    expect(summary?.statuses).toEqual({ 0: 1, 201: 2, 409: 1, 500: 1, 503: 2 });
  });
});
