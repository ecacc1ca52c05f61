/** The event page: details, the live seat map and the ways to pick tickets. */
export { EventPage } from './components/EventPage';
