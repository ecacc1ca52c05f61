/** Placeholder until the pages land. */
import { PageTitle } from '../../../components/PageTitle';

export function OrderPage() {
  return <section className="page"><PageTitle title="Order" /></section>;
}

export function MyOrdersPage() {
  return <section className="page"><PageTitle title="My orders" /></section>;
}
