/**
 * Organizer pages, nested under /organizer with their own routes (wouter `nest`: paths
 * inside are relative, e.g. "/venues/new").
 */
import { Route, Switch } from 'wouter';
import { PageTitle } from '../../../components/PageTitle';

function OrganizerHome() {
  return <section className="page"><PageTitle title="Organizer" /></section>;
}

export function OrganizerApp() {
  return (
    <Switch>
      <Route path="/" component={OrganizerHome} />
    </Switch>
  );
}
