/** The door check-in page (behind the organizer's sign-in). */
import { AdminGate } from '../organizer';
import { CheckinPage as Page } from './components/CheckinPage';

export function CheckinPage() {
  return <AdminGate><Page /></AdminGate>;
}
