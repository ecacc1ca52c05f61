/**
 * The one entry of live queue data: joins the line, then follows the queue stream (SSE),
 * keeping the latest view (the stream's tick sequence orders them). The page reads the
 * view; it never touches the stream.
 */
import { useCallback, useEffect, useState } from 'react';
import { openEventStream } from '../../../lib/eventStream';
import { joinQueue, type QueueView } from '../api/queue';

export interface QueueState {
  view: QueueView | undefined;
  /** The first position seen, for the progress bar. */
  startPosition: number | undefined;
  phase: 'joining' | 'solving' | 'live' | 'reconnecting' | 'done';
  error: unknown;
}

const finalStates = new Set(['sold_out', 'expired', 'left']);

/** The live view of the fan's place; `replace` shows a view the page got by its own call. */
export function useQueueStream(eventId: string, attempt: number):
QueueState & { replace(view: QueueView): void } {
  const [state, setState] = useState<QueueState>({
    view: undefined, startPosition: undefined, phase: 'joining', error: undefined,
  });
  useEffect(() => {
    let current = true;
    let lastId: string | undefined;
    let stream: ReturnType<typeof openEventStream> | undefined;
    const show = (view: QueueView, phase: QueueState['phase']) => {
      if (!current) return;
      setState((previous) => ({
        view, phase, error: undefined,
        startPosition: previous.startPosition ?? (view.position ?? undefined),
      }));
    };
    setState({ view: undefined, startPosition: undefined, phase: 'joining', error: undefined });
    joinQueue(eventId, () => current && setState((s) => ({ ...s, phase: 'solving' }))).then(
      (view) => {
        if (!current) return;
        const done = finalStates.has(view.state) || view.state === 'admitted';
        show(view, done ? 'done' : 'live');
        if (done) return;
        stream = openEventStream(`/api/v1/events/${encodeURIComponent(eventId)}/queue/stream`, {
          authenticated: true,
          lastEventId: () => lastId,
          onOpen: () => setState((s) => (s.phase === 'reconnecting' ? { ...s, phase: 'live' } : s)),
          onRefused: (response) => {
            if (current) setState((s) => ({ ...s, phase: 'reconnecting' }));
            return response.status === 429 || response.status >= 500;
          },
          onMessage: (message) => {
            if (message.event !== 'queue') return;
            lastId = message.id ?? lastId;
            const view = JSON.parse(message.data) as QueueView;
            const over = finalStates.has(view.state) || view.state === 'admitted';
            show(view, over ? 'done' : 'live');
            if (over) stream?.close();
          },
        });
      },
      (error: unknown) => current && setState((s) => ({ ...s, phase: 'done', error })),
    );
    return () => {
      current = false;
      stream?.close();
    };
  }, [eventId, attempt]);
  const replace = useCallback((view: QueueView) => {
    setState((previous) => ({ ...previous, view, phase: 'done', error: undefined }));
  }, []);
  return { ...state, replace };
}
