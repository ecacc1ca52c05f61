/** The live on-sale dashboard (behind the organizer's sign-in). */
import { AdminGate } from '../organizer';
import { DashboardPage as Page } from './components/DashboardPage';

export function DashboardPage() {
  return <AdminGate><Page /></AdminGate>;
}
