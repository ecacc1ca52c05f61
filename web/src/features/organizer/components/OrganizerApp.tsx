/**
 * Organizer pages nested under /organizer (wouter `nest`: paths inside are relative), each
 * behind the admin sign-in. The dashboard and the door are features of their own with
 * their own entries in the route table.
 */
import { Route, Switch } from 'wouter';
import { organizerPatterns } from '../../../lib/paths';
import { AdminGate } from './AdminGate';
import { EventFormPage } from './EventFormPage';
import { OrderSearchPage } from './OrderSearchPage';
import { OrganizerHome } from './OrganizerHome';
import { VenueGeneratorPage } from './VenueGeneratorPage';

export function OrganizerApp() {
  return (
    <AdminGate>
      <Switch>
        <Route path={organizerPatterns.home} component={OrganizerHome} />
        <Route path={organizerPatterns.newVenue} component={VenueGeneratorPage} />
        <Route path={organizerPatterns.newEvent} component={EventFormPage} />
        <Route path={organizerPatterns.orders} component={OrderSearchPage} />
      </Switch>
    </AdminGate>
  );
}
