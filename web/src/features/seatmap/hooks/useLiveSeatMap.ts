/**
 * The one entry of live seat data: loads the seat map and the venue's layout hints, builds
 * the scene and its store, then follows the event's live feed (SSE), applying versioned
 * messages to the store. A gap (a step that does not start at our version) reconnects
 * without Last-Event-ID, which makes the server send a fresh snapshot. Where the feed is
 * unavailable the map re-reads the seat map every few seconds instead.
 */
import { useEffect, useState } from 'react';
import { api, unwrap } from '../../../lib/api/client';
import { openEventStream, type EventStream } from '../../../lib/eventStream';
import type { LayoutHint } from '../../../lib/venueGeometry';
import { buildScene, type SeatMapInput, type ZoneInput } from '../lib/scene';
import {
  SeatStore, type AvailabilityMessage, type SeatsMessage, type SnapshotMessage,
} from '../lib/seatStore';

const pollMs = 5_000;

async function loadSeatMap(eventId: string): Promise<SeatMapInput> {
  return await unwrap(api.GET('/api/v1/events/{eventId}/seatmap', {
    params: { path: { eventId } },
  }));
}

async function loadHints(venueId: string): Promise<Map<string, LayoutHint>> {
  const venue = await unwrap(api.GET('/api/v1/venues/{venueId}', {
    params: { path: { venueId } },
  }));
  const hints = new Map<string, LayoutHint>();
  for (const section of venue.sections) {
    if (section.layout !== undefined) hints.set(section.key, section.layout);
  }
  return hints;
}

/** The seat map as a snapshot message (the polling fallback applies it like one). */
export function seatMapSnapshot(seatmap: SeatMapInput): SnapshotMessage {
  const letter: Record<string, string> = { available: 'a', held: 'h', sold: 's' };
  return {
    version: seatmap.version,
    zones: [],
    sections: seatmap.sections.map((s) => ({
      key: s.key, capacity: s.capacity, available: s.available, held: 0,
      sold: s.capacity - s.available,
      rows: s.rows.map((r) => ({
        label: r.label, seats: r.seats.map((seat) => letter[seat.status] ?? 's').join(''),
      })),
    })),
  };
}

function parse<T>(data: string): T | undefined {
  try {
    return JSON.parse(data) as T;
  } catch {
    return undefined;
  }
}

/** Follows the live feed into the store; returns a stop function. */
export function followLiveFeed(store: SeatStore): () => void {
  const eventId = store.scene.eventId;
  let poll: ReturnType<typeof setInterval> | undefined;
  let resync = false;
  let stream: EventStream | undefined;
  // Without the feed (refused, or the connection is down), read the map now and then.
  const startPolling = () => {
    if (poll !== undefined) return;
    poll = setInterval(() => {
      loadSeatMap(eventId).then((map) => {
        if (map.version >= store.version) store.applySnapshot(seatMapSnapshot(map));
      }, () => undefined);
    }, pollMs);
  };
  const onGap = () => {
    resync = true;
    stream?.reconnect();
  };
  stream = openEventStream(`/api/v1/events/${encodeURIComponent(eventId)}/live`, {
    lastEventId: () => (resync ? undefined : String(store.version)),
    onOpen: () => {
      resync = false;
      clearInterval(poll);
      poll = undefined;
    },
    onRefused: (response) => {
      startPolling();
      // 404: this server has no live feed; anything else (full, restarting) may pass.
      return response.status !== 404;
    },
    onDown: startPolling,
    onMessage: (message) => {
      if (message.event === 'snapshot') {
        const snapshot = parse<SnapshotMessage>(message.data);
        if (snapshot) store.applySnapshot(snapshot);
      } else if (message.event === 'seats') {
        const step = parse<SeatsMessage>(message.data);
        if (step && store.applySeats(step) === 'gap') onGap();
      } else if (message.event === 'availability') {
        const counts = parse<AvailabilityMessage>(message.data);
        if (counts && store.applyAvailability(counts) === 'gap') onGap();
      } else if (message.event === 'end') {
        store.end(parse<{ reason?: string }>(message.data)?.reason ?? 'ended');
        stream?.close();
      }
    },
  });
  return () => {
    stream?.close();
    clearInterval(poll);
  };
}

/** Loads the map for an event and keeps it live while mounted. */
export function useLiveSeatMap(
  eventId: string, venueId: string | undefined, zones: ZoneInput[] | undefined,
): { store: SeatStore | undefined; error: unknown } {
  const [state, setState] = useState<{ store?: SeatStore; error?: unknown }>({});
  const ready = venueId !== undefined && zones !== undefined;
  useEffect(() => {
    if (!ready) return undefined;
    let stop: (() => void) | undefined;
    let current = true;
    Promise.all([loadSeatMap(eventId), loadHints(venueId).catch(() => new Map())]).then(
      ([seatmap, hints]) => {
        if (!current) return;
        const store = new SeatStore(buildScene(eventId, seatmap, zones, hints), seatmap);
        stop = followLiveFeed(store);
        setState({ store });
      },
      (error: unknown) => current && setState({ error }),
    );
    return () => {
      current = false;
      stop?.();
    };
    // Zones only name and price the map; a new array with the same event changes nothing.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [eventId, ready]);
  return { store: state.store, error: state.error };
}
