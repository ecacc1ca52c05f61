/** Shows a failed call as the fan-facing message for its problem code. */
import { ApiProblem } from '../lib/api/client';
import { copy, problemMessage } from '../lib/copy';

/** The message for anything a call may throw. */
export function messageFor(error: unknown): string {
  if (error instanceof ApiProblem) {
    const base = problemMessage(error.code, error.detail);
    const wait = error.retryAfterSeconds;
    return error.code === 'rate_limited' && wait !== undefined
      ? `${base} ${copy.problems.retryIn(wait)}`
      : base;
  }
  return copy.problems.fallback;
}

export function ProblemMessage({ error, id }: { error: unknown; id?: string }) {
  if (error === null || error === undefined) return null;
  const code = error instanceof ApiProblem ? error.code : 'unknown';
  return (
    <div role="alert" className="notice error" data-code={code} id={id}>
      {messageFor(error)}
    </div>
  );
}
