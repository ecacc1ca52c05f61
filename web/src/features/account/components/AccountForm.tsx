/** Log-in and registration forms; after success the fan goes back where they came from. */
import { useId, useState, type FormEvent } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { limits } from '@server/config/limits';
import { PageTitle } from '../../../components/PageTitle';
import { ProblemMessage } from '../../../components/ProblemMessage';
import { copy } from '../../../lib/copy';
import { paths, safeNext } from '../../../lib/paths';
import { logIn, register } from '../api/auth';

function useNext(): string {
  return safeNext(new URLSearchParams(useSearch()).get('next'));
}

function AccountForm({ mode }: { mode: 'login' | 'register' }) {
  const next = useNext();
  const [, navigate] = useLocation();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const hintId = useId();
  const errorId = useId();
  const registering = mode === 'register';
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const email = String(data.get('email') ?? '');
    const password = String(data.get('password') ?? '');
    setBusy(true);
    setError(undefined);
    try {
      if (registering) await register(email, String(data.get('name') ?? ''), password);
      else await logIn(email, password);
      navigate(next, { replace: true });
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };
  const title = registering ? copy.account.registerTitle : copy.account.loginTitle;
  return (
    <section className="page narrow">
      <PageTitle title={title} />
      <form className="stack card" onSubmit={(e) => void submit(e)}
        aria-describedby={error ? errorId : undefined}>
        <ProblemMessage error={error} id={errorId} />
        <label>
          <span>{copy.account.email}</span>
          <input name="email" type="email" required autoComplete="email"
            maxLength={limits.emailLength} />
        </label>
        {registering && (
          <label>
            <span>{copy.account.name}</span>
            <input name="name" type="text" required autoComplete="name"
              maxLength={limits.nameLength} />
          </label>
        )}
        <label>
          <span>{copy.account.password}</span>
          <input name="password" type="password" required
            autoComplete={registering ? 'new-password' : 'current-password'}
            minLength={registering ? limits.passwordMinLength : undefined}
            maxLength={limits.passwordMaxLength}
            aria-describedby={registering ? hintId : undefined} />
          {registering && (
            <small id={hintId} className="muted">
              {copy.account.passwordHint(limits.passwordMinLength)}
            </small>
          )}
        </label>
        <button type="submit" className="button" disabled={busy}>
          {registering ? copy.account.register : copy.account.login}
        </button>
      </form>
      <p>
        {registering ? copy.account.haveAccount : copy.account.noAccount}{' '}
        <Link href={registering ? paths.login(next) : paths.register(next)}>
          {registering ? copy.account.login : copy.account.register}
        </Link>
      </p>
    </section>
  );
}

export function LoginPage() {
  return <AccountForm mode="login" />;
}

export function RegisterPage() {
  return <AccountForm mode="register" />;
}
