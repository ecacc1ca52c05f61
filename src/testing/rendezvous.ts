/**
 * A meeting point for a race test's control: each arrival waits until the expected number
 * have arrived, then all go on at once, so the rivals overlap by construction. Waits on
 * arrivals, never on sleeps; the timeout only turns a race that cannot meet into a clear
 * failure (every waiting arrival is then rejected).
 */
export class Rendezvous {
  private expected = 0;
  private waiting: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;

  /** Arms it for the next `n` arrivals. */
  expect(n: number, timeoutMs = 30_000): void {
    if (this.expected > 0) throw new Error('a rendezvous is already armed');
    this.expected = n;
    this.timer = setTimeout(() => {
      this.settle(new Error(`only ${this.waiting.length} of ${n} arrived`));
    }, timeoutMs);
  }

  /** Waits for the others; pass it as the seam (`seams.offerLineRead`). */
  readonly arrive = async (): Promise<void> => {
    if (this.expected === 0) throw new Error('an arrival at a rendezvous nobody armed');
    const met = new Promise<void>((resolve, reject) => this.waiting.push({ resolve, reject }));
    if (this.waiting.length >= this.expected) this.settle();
    await met;
  };

  private settle(error?: Error): void {
    clearTimeout(this.timer);
    const waiting = this.waiting;
    this.waiting = [];
    this.expected = 0;
    for (const arrival of waiting) {
      if (error === undefined) arrival.resolve();
      else arrival.reject(error);
    }
  }
}
