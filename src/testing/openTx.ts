/**
 * A transaction a race test keeps open: it does its work (locks a row, or runs a rival
 * batch as another node would), then holds every lock it took until the test lets it go,
 * so the contender the test starts next must wait on them. The test sees the contender
 * wait (`waitForLockWait`, a condition, not a sleep), releases, and reads what the open
 * transaction decided. This is the one place that setup lives; the lock-race suites of
 * holds, joins and the waitlist hand-over all build on it.
 */
import type { Db, Queryable } from '../storage/index.js';
import { waitForLockWait } from './lockWait.js';

/** An open transaction whose work has run and whose locks are held. */
export interface OpenTx<T> {
  /** Lets the transaction commit (an error in `work` rolls it back instead). */
  release: () => void;
  /** What `work` returned, once the transaction has ended; rejects with its error. */
  done: Promise<T>;
  /**
   * Waits until `sessions` statements containing `statement` are blocked on a lock (the
   * contenders reached the rows this transaction holds), then releases it and returns
   * `done`.
   */
  releaseWhenWaited: (statement: string, what: string, sessions?: number) => Promise<T>;
}

/**
 * Runs `work` in a transaction of its own (one attempt: a retry would take the locks
 * again behind the contenders) and resolves once `work` has returned, with its locks held
 * until `release()`. PostgreSQL only in practice: PGlite has one connection, so a second
 * transaction could not start while this one waits.
 */
export async function holdOpen<T>(
  db: Db, work: (tx: Queryable) => Promise<T>,
): Promise<OpenTx<T>> {
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  let ran = (): void => undefined;
  const workDone = new Promise<void>((resolve) => { ran = resolve; });
  const done = db.tx(async (tx) => {
    const value = await work(tx);
    ran();
    await gate;
    return value;
  }, { maxAttempts: 1 });
  // Should `work` fail, there is nothing to hold: answer at once with its error.
  await Promise.race([workDone, done]);
  return {
    release,
    done,
    async releaseWhenWaited(statement, what, sessions = 1) {
      await waitForLockWait(db, statement, what, sessions);
      release();
      return await done;
    },
  };
}
