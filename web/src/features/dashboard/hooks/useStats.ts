/**
 * Polls the stats endpoint about once a second (the next poll waits for the last reply, so
 * a slow server is never asked twice at once) and keeps the chart samples.
 */
import { useEffect, useState } from 'react';
import { fetchStats, type OnSaleStats } from '../api/stats';
import { appendSample, seedSamples, type Sample } from '../chartData';

export const pollEveryMs = 1_000;

/** The latest figures, the samples for the charts, and the last error (cleared on success). */
export interface StatsState {
  latest: OnSaleStats | undefined;
  samples: Sample[];
  error: unknown;
}

export function useStats(eventId: string): StatsState {
  const [state, setState] = useState<StatsState>({ latest: undefined, samples: [],
    error: undefined });
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setState({ latest: undefined, samples: [], error: undefined });
    const poll = async () => {
      try {
        const stats = await fetchStats(eventId);
        if (stopped) return;
        setState((previous) => ({
          latest: stats,
          samples: appendSample(previous.samples.length === 0 ? seedSamples(stats)
            : previous.samples, stats),
          error: undefined,
        }));
      } catch (error) {
        if (!stopped) setState((previous) => ({ ...previous, error }));
      }
      if (!stopped) timer = setTimeout(() => void poll(), pollEveryMs);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [eventId]);
  return state;
}
