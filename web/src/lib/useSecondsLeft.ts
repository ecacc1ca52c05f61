/** Whole seconds left until a server deadline, ticking on its own (checkout, offers). */
import { useEffect, useState } from 'react';

/** `skewMs` is the server clock minus ours, where the caller measured it. */
export function useSecondsLeft(expiresAt: string, skewMs = 0): number {
  const deadline = Date.parse(expiresAt);
  const compute = () => Math.max(0, Math.ceil((deadline - (Date.now() + skewMs)) / 1000));
  const [left, setLeft] = useState(compute);
  useEffect(() => {
    setLeft(compute());
    const timer = setInterval(() => setLeft(compute()), 250);
    return () => clearInterval(timer);
    // compute reads only deadline and skew.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [deadline, skewMs]);
  return left;
}
