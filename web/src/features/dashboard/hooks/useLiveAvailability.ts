/**
 * The event's live feed (GET /events/:id/live, SSE), reduced to what the dashboard shows:
 * per-zone counts from `snapshot` and `availability` messages. Versions only move forward;
 * a message whose prevVersion is not ours means a gap, so the stream is reopened and the
 * server's fresh snapshot replaces what we had.
 */
import { useEffect, useState } from 'react';

/** One zone's counts as the feed sends them. */
export interface LiveZone {
  key: string;
  capacity: number;
  available: number;
  held: number;
  sold: number;
}

/** What the dashboard reads; `connected` is false until a snapshot arrives. */
export interface LiveAvailability {
  connected: boolean;
  version: number;
  zones: LiveZone[];
  updatedAtMs: number | undefined;
}

interface FeedMessage {
  version: number;
  prevVersion?: number;
  zones?: LiveZone[];
}

const initial: LiveAvailability = { connected: false, version: 0, zones: [],
  updatedAtMs: undefined };

/** Applies one message; returns 'gap' when the stream must be reopened. */
export function applyFeedMessage(state: LiveAvailability, type: string, message: FeedMessage,
  nowMs: number): LiveAvailability | 'gap' {
  if (type === 'snapshot') {
    return { connected: true, version: message.version, zones: message.zones ?? [],
      updatedAtMs: nowMs };
  }
  if (!state.connected || message.version <= state.version) return state;
  if (message.prevVersion !== undefined && message.prevVersion !== state.version) return 'gap';
  if (type !== 'availability' || message.zones === undefined) {
    return { ...state, version: message.version };
  }
  const byKey = new Map(message.zones.map((zone) => [zone.key, zone]));
  return {
    connected: true, version: message.version, updatedAtMs: nowMs,
    zones: state.zones.map((zone) => byKey.get(zone.key) ?? zone),
  };
}

/** Subscribes while mounted; a browser without EventSource stays disconnected. */
export function useLiveAvailability(eventId: string): LiveAvailability {
  const [state, setState] = useState<LiveAvailability>(initial);
  useEffect(() => {
    if (typeof EventSource === 'undefined') return undefined;
    let source: EventSource | undefined;
    let current = initial;
    const open = () => {
      source?.close();
      source = new EventSource(`/api/v1/events/${encodeURIComponent(eventId)}/live`);
      for (const type of ['snapshot', 'availability', 'seats']) {
        source.addEventListener(type, (event) => {
          let message: FeedMessage;
          try {
            message = JSON.parse((event as MessageEvent<string>).data) as FeedMessage;
          } catch {
            return;
          }
          const next = applyFeedMessage(current, type, message, Date.now());
          if (next === 'gap') {
            open();
            return;
          }
          current = next;
          setState(next);
        });
      }
      source.addEventListener('end', () => source?.close());
    };
    open();
    return () => source?.close();
  }, [eventId]);
  return state;
}
