/** The shell: skip link, header with navigation, the routed page, and a footer. */
import { Suspense } from 'react';
import { Link, Route, Switch, useLocation } from 'wouter';
import { ErrorBoundary } from '../components/ErrorBoundary';
import { PageTitle } from '../components/PageTitle';
import { Spinner } from '../components/Spinner';
import { copy } from '../lib/copy';
import { paths } from '../lib/paths';
import { session, useSession } from '../lib/session';
import { NoticesLayer } from '../features/notices';
import { routes } from './routes';

function Header() {
  const current = useSession();
  const [location] = useLocation();
  return (
    <header className="site-header">
      <Link href={paths.home()} className="brand">{copy.app.name}</Link>
      <nav aria-label={copy.nav.label} className="site-nav">
        <Link href={paths.home()}>{copy.nav.events}</Link>
        {current !== null && <Link href={paths.myOrders()}>{copy.nav.myOrders}</Link>}
        {current === null ? (
          <>
            <Link href={paths.login(location)}>{copy.nav.signIn}</Link>
            <Link href={paths.register(location)} className="button small">
              {copy.nav.register}
            </Link>
          </>
        ) : (
          <button type="button" className="link" onClick={() => session.clear()}
            title={copy.nav.signedInAs(current.email)}>
            {copy.nav.signOut}
          </button>
        )}
      </nav>
    </header>
  );
}

function NotFound() {
  return (
    <section className="page narrow">
      <PageTitle title={copy.app.notFoundTitle} />
      <p>{copy.app.notFoundBody}</p>
      <Link href={paths.home()}>{copy.app.backHome}</Link>
    </section>
  );
}

/** The whole app. */
export function App() {
  return (
    <>
      <a href="#main" className="skip-link">{copy.app.skipToContent}</a>
      <Header />
      <NoticesLayer />
      <main id="main" tabIndex={-1}>
        <ErrorBoundary>
          <Suspense fallback={<Spinner />}>
            <Switch>
              {routes.map((route) => (
                <Route key={route.path} path={route.path} nest={route.nest}
                  component={route.page} />
              ))}
              <Route component={NotFound} />
            </Switch>
          </Suspense>
        </ErrorBoundary>
      </main>
      <footer className="site-footer">
        <p>{copy.app.tagline}</p>
      </footer>
    </>
  );
}
