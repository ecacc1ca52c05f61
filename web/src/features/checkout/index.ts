/** Holds and checkout: the timer page, and the hold calls other pages start from. */
export { CheckoutPage } from './components/CheckoutPage';
export { createHold, type Hold, type HoldRequest } from './api/holds';
