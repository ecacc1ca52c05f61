/** Live notices of the signed-in fan's notification stream: offers, orders, refunds. */
export { NoticesLayer } from './components/NoticesLayer';
export { useOfferArrivals } from './hooks/useOfferArrivals';
