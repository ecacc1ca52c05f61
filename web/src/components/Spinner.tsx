/** A polite loading indicator. */
import { copy } from '../lib/copy';

export function Spinner({ label = copy.app.loading }: { label?: string }) {
  return (
    <div className="spinner" role="status" aria-live="polite">
      <span className="spinner-dot" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}
