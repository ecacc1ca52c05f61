/**
 * The hold's countdown, against the server's clock (the offset measured when the hold was
 * read). Announces the last minute once to screen readers rather than every second.
 */
import { copy } from '../../../lib/copy';
import { formatClock } from '../../../lib/format';

export { useSecondsLeft } from '../../../lib/useSecondsLeft';

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
