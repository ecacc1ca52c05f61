/**
 * Time as a dependency. Domain code never reads Date.now() directly, so tests move time
 * instead of sleeping. Ticket state itself is compared against the database clock (now()).
 */
export interface Clock {
  nowMs(): number;
}

/** The wall clock. */
export const systemClock: Clock = { nowMs: () => Date.now() };

/** A clock that only moves when told to; for tests. */
export class ManualClock implements Clock {
  constructor(private currentMs: number = Date.UTC(2030, 0, 1)) {}

  nowMs(): number {
    return this.currentMs;
  }

  advance(ms: number): void {
    this.currentMs += ms;
  }

  set(ms: number): void {
    this.currentMs = ms;
  }
}
