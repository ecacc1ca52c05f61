/**
 * The hold's countdown, against the server's clock (the offset measured when the hold was
 * read). Announces the last minute once to screen readers rather than every second.
 */
import { useEffect, useState } from 'react';
import { copy } from '../../../lib/copy';
import { formatClock } from '../../../lib/format';

export function useSecondsLeft(expiresAt: string, skewMs: number): number {
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

export function Countdown({ secondsLeft }: { secondsLeft: number }) {
  const urgent = secondsLeft <= 60;
  return (
    <div className={`countdown${urgent ? ' urgent' : ''}`}>
      <span className="muted">{copy.checkout.timer}</span>
      <span role="timer" aria-label={copy.checkout.timerAria(formatClock(secondsLeft))}
        className="countdown-clock">{formatClock(secondsLeft)}</span>
      <span className="visually-hidden" aria-live="polite">
        {secondsLeft <= 60 && secondsLeft > 55 ? copy.checkout.oneMinute : ''}
      </span>
    </div>
  );
}
