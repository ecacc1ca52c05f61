/** Placeholder until the page lands. */
import { PageTitle } from '../../../components/PageTitle';

export function QueuePage() {
  return <section className="page"><PageTitle title="QueuePage" /></section>;
}
