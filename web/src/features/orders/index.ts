export { MyOrdersPage, OrderPage } from './components/OrderPages';
