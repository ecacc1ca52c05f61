/** Renders children for a signed-in fan; otherwise a prompt to log in and come back. */
import type { ReactNode } from 'react';
import { Link, useLocation } from 'wouter';
import { copy } from '../../../lib/copy';
import { paths } from '../../../lib/paths';
import { useSession } from '../../../lib/session';

export function RequireSession({ children }: { children: ReactNode }) {
  const current = useSession();
  const [location] = useLocation();
  if (current !== null) return <>{children}</>;
  return (
    <div className="notice">
      <p>{copy.account.needSignIn}</p>
      <p className="row">
        <Link href={paths.login(location)} className="button">{copy.nav.signIn}</Link>
        <Link href={paths.register(location)} className="button secondary">
          {copy.nav.register}
        </Link>
      </p>
    </div>
  );
}
