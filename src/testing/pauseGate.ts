/**
 * A batch gate for race tests (core/groupCommit.ts BatchGate, e.g. the apps'
 * `seams.settleBatches`): while paused, every key's requests queue and none starts a batch;
 * `resume` lets them all go, so items queued meanwhile share one batch by construction.
 */
import type { BatchGate } from '../core/groupCommit.js';

export class PauseGate implements BatchGate {
  private paused = false;
  /** Per key held back: how many wait, and how to let them go. */
  private readonly held = new Map<string, { queued: number; wake: () => void }>();

  /** Holds every batch back until `resume()`. */
  pause(): void {
    this.paused = true;
  }

  /** Lets every held key start its batches. */
  resume(): void {
    this.paused = false;
    const held = [...this.held.values()];
    this.held.clear();
    for (const { wake } of held) wake();
  }

  /** Requests waiting behind the gate, over all keys (tests wait for this while paused). */
  queued(): number {
    let n = 0;
    for (const { queued } of this.held.values()) n += queued;
    return n;
  }

  holds(key: string, queued: number, wake: () => void): boolean {
    if (!this.paused) return false;
    this.held.set(key, { queued, wake });
    return true;
  }
}
