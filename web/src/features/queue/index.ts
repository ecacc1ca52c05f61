export { QueuePage } from './components/QueuePage';
