/** Placeholder until the page lands. */
import { PageTitle } from '../../../components/PageTitle';

export function CheckoutPage() {
  return <section className="page"><PageTitle title="CheckoutPage" /></section>;
}
