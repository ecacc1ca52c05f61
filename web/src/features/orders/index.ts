/** Orders: the order page with QR tickets, and the customer's orders with cancellation. */
export { MyOrdersPage, OrderPage } from './components/OrderPages';
export { loadOrder, type Order } from './api/orders';
