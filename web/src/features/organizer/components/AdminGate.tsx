/**
 * Organizer pages need the admin token: until one is given (and accepted by the server)
 * the page shows the sign-in form instead. The token lives in sessionStorage only.
 */
import { useId, useState, type FormEvent, type ReactNode } from 'react';
import { PageTitle } from '../../../components/PageTitle';
import { ProblemMessage } from '../../../components/ProblemMessage';
import { copy } from '../../../lib/copy';
import { checkAdminToken } from '../api/organizer';
import { adminSession, useAdminToken } from '../api/adminSession';

function AdminSignIn() {
  const text = copy.organizer.signIn;
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const hintId = useId();
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const token = String(new FormData(event.currentTarget).get('token') ?? '').trim();
    if (token === '') return;
    setBusy(true);
    setError(undefined);
    try {
      await checkAdminToken(token);
      adminSession.set(token);
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };
  return (
    <section className="page narrow">
      <PageTitle title={text.title} />
      <form className="stack card" onSubmit={(e) => void submit(e)}>
        <ProblemMessage error={error} />
        <label>
          <span>{text.token}</span>
          <input name="token" type="password" required autoComplete="off"
            aria-describedby={hintId} maxLength={500} />
        </label>
        <p id={hintId} className="muted small">{text.hint}</p>
        <button type="submit" disabled={busy}>{text.submit}</button>
      </form>
    </section>
  );
}

/** Renders its children once an admin token is held, else the sign-in form. */
export function AdminGate({ children }: { children: ReactNode }) {
  const token = useAdminToken();
  return token === null ? <AdminSignIn /> : <>{children}</>;
}

/** Forgets the admin token (the organizer signs out). */
export function AdminSignOut() {
  return (
    <button type="button" className="secondary small" onClick={() => adminSession.clear()}>
      {copy.organizer.signIn.signOut}
    </button>
  );
}
