/** Whole seconds left until a server deadline, ticking on its own (checkout, offers). */
import { useEffect, useState } from 'react';
import { serverNowMs } from './serverClock';

/** Counts against the server's clock (lib/serverClock), not this device's. */
export function useSecondsLeft(expiresAt: string): number {
  const deadline = Date.parse(expiresAt);
  const compute = () => Math.max(0, Math.ceil((deadline - serverNowMs()) / 1000));
  const [left, setLeft] = useState(compute);
  useEffect(() => {
    setLeft(compute());
    const timer = setInterval(() => setLeft(compute()), 250);
    return () => clearInterval(timer);
    // compute reads only the deadline (and the module's clock offset).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [deadline]);
  return left;
}
