/**
 * The messages of the live seat-map feed, the same on SSE and WebSocket (docs/REALTIME.md),
 * and their wire frames. A frame is encoded once per message per node and written as is
 * to every client, however many there are.
 */

/** Ticket counts; available + held + sold = capacity. */
export interface Counts {
  available: number;
  held: number;
  sold: number;
}

export interface ZoneCounts extends Counts {
  key: string;
  capacity: number;
}

/** The whole map at `version`: counts, and one status character per seat (a, h, s). */
export interface SnapshotMessage {
  version: number;
  zones: ZoneCounts[];
  sections: (Counts & {
    key: string;
    kind: 'seated' | 'standing';
    zone: string;
    capacity: number;
    rows?: { label: string; seats: string }[];
  })[];
}

export interface SeatChange {
  seatId: string;
  status: 'available' | 'held' | 'sold';
}

/** The step from prevVersion to version: every seat whose status changed (may be none). */
export interface SeatsMessage {
  version: number;
  prevVersion: number;
  changes: SeatChange[];
}

/** Absolute counts at `version`: every zone, and the sections the step touched. */
export interface AvailabilityMessage {
  version: number;
  prevVersion: number;
  zones: ZoneCounts[];
  sections: (Counts & { key: string })[];
}

/** The feed is over; the stream closes after this. */
export interface EndMessage {
  version: number;
  reason: 'cancelled';
}

export type LiveMessageType = 'snapshot' | 'seats' | 'availability' | 'end';

/** One message, encoded for both transports. */
export interface LiveFrame {
  type: LiveMessageType;
  version: number;
  /** `id:`, `event:` and `data:` lines, ready to write to an SSE response. */
  sse: Buffer;
  /** One JSON text frame, UTF-8: `{"type": ..., ...data}`. */
  ws: Buffer;
}

/** Encodes a message once for every transport. */
export function encodeFrame(
  type: LiveMessageType, data: SnapshotMessage | SeatsMessage | AvailabilityMessage | EndMessage,
): LiveFrame {
  const json = JSON.stringify(data);
  return {
    type, version: data.version,
    sse: Buffer.from(`id: ${data.version}\nevent: ${type}\ndata: ${json}\n\n`),
    ws: Buffer.from(`{"type":"${type}",${json.slice(1)}`),
  };
}

/** Frames sent together (one step: `seats` then `availability`), joined once for SSE. */
export interface LiveBatch {
  frames: LiveFrame[];
  /** Every frame's SSE text in one buffer: one write per client instead of one per frame. */
  sse: Buffer;
}

/** Joins frames that always go out together. */
export function batchOf(frames: LiveFrame[]): LiveBatch {
  return { frames, sse: frames.length === 1 ? (frames[0] as LiveFrame).sse
    : Buffer.concat(frames.map((frame) => frame.sse)) };
}
