/** Organizer pages: venues, events, orders; the admin gate and client other features use. */
export { OrganizerApp } from './components/OrganizerApp';
export { AdminGate } from './components/AdminGate';
export { adminApi } from './api/adminClient';
export { getEvent } from './api/organizer';
