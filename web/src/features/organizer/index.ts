/** Organizer pages: venues, events, the live dashboard, orders and door check-in. */
export { OrganizerApp } from './components/OrganizerApp';
