/**
 * Time as a dependency. Domain code never reads Date.now() directly, so tests move time
 * instead of sleeping. Ticket state itself is compared against the database clock (now()).
 */
export interface Clock {
  nowMs(): number;
  /**
   * True for a clock that a test moves by hand. Statements that would compare against the
   * database clock then use this clock's time instead, so such tests still drive time.
   */
  readonly pinned?: boolean;
}

/** The wall clock. */
export const systemClock: Clock = { nowMs: () => Date.now() };

/** A clock that only moves when told to; for tests. */
export class ManualClock implements Clock {
  readonly pinned = true;

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

/**
 * The time a statement should use instead of the database clock: the clock's own time when
 * a test pins it, otherwise undefined, meaning now() in the statement.
 */
export function pinnedNowMs(clock: Clock): number | undefined {
  return clock.pinned === true ? clock.nowMs() : undefined;
}
