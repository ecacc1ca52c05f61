/**
 * The event's live feed (GET /events/:id/live, SSE), reduced to what the dashboard shows:
 * per-zone counts from `snapshot` and `availability` messages. One step of the feed may
 * send a `seats` and an `availability` message with the same version (counts only when
 * they changed). Versions only move forward; a step whose prevVersion is not ours means a
 * gap, so the stream is reopened and the server's fresh snapshot replaces what we had.
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
  /** The prevVersion of the step that brought us to `version`. */
  stepFrom: number;
  /** The version the zone counts are from. */
  countsVersion: number;
  zones: LiveZone[];
  updatedAtMs: number | undefined;
}

interface FeedMessage {
  version: number;
  prevVersion?: number;
  zones?: LiveZone[];
}

const initial: LiveAvailability = { connected: false, version: 0, stepFrom: 0,
  countsVersion: 0, zones: [],
  updatedAtMs: undefined };

/** Applies one message; returns 'gap' when the stream must be reopened. */
export function applyFeedMessage(state: LiveAvailability, type: string, message: FeedMessage,
  nowMs: number): LiveAvailability | 'gap' {
  if (type === 'snapshot') {
    return { connected: true, version: message.version, stepFrom: message.version,
      countsVersion: message.version, zones: message.zones ?? [], updatedAtMs: nowMs };
  }
  if (!state.connected || message.version < state.version) return state;
  if (type === 'availability' && message.version <= state.countsVersion) return state;
  const prev = message.prevVersion ?? state.version;
  // The second message of the step we are at (seats first, then availability).
  const sameStep = message.version === state.version && prev === state.stepFrom
    && state.stepFrom !== state.version;
  if (message.version === state.version && !sameStep) return state;
  if (!sameStep && prev !== state.version) return 'gap';
  const moved = { ...state, version: message.version, stepFrom: prev };
  if (type !== 'availability' || message.zones === undefined) return moved;
  const byKey = new Map(message.zones.map((zone) => [zone.key, zone]));
  return { ...moved, countsVersion: message.version, updatedAtMs: nowMs,
    zones: state.zones.map((z) => byKey.get(z.key) ?? z) };
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
