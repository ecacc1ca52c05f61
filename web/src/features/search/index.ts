/** Event search: the storefront's home page. */
export { SearchPage } from './components/SearchPage';
export type { EventSummary } from './api/searchEvents';
