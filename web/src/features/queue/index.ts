/** The waiting room page and the queue pass it hands to the seat map. */
export { QueuePage } from './components/QueuePage';
export { clearQueuePass, getQueuePass, setQueuePass } from './lib/pass';
