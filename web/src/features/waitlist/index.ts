/** The waitlist: join and leave per event, and offers (holds made for the fan). */
export { WaitlistPanel } from './components/WaitlistPanel';
export {
  myOffers, myWaitlist, type HoldSummary, type WaitlistEntry,
} from './api/waitlist';
