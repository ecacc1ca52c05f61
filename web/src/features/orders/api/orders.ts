/** Orders: one with its tickets, the customer's list, and cancellation. */
import { api, unwrap, type Reply } from '../../../lib/api/client';

export type Order = Reply<'/api/v1/orders/{orderId}', 'get'>;
export type Ticket = Order['tickets'][number];

export async function loadOrder(orderId: string): Promise<Order> {
  return await unwrap(api.GET('/api/v1/orders/{orderId}', { params: { path: { orderId } } }));
}

export async function myOrders(): Promise<Order[]> {
  return (await unwrap(api.GET('/api/v1/me/orders', {}))).data;
}

export async function cancelOrder(orderId: string): Promise<Order> {
  return await unwrap(api.POST('/api/v1/orders/{orderId}/cancel', {
    params: { path: { orderId } },
  }));
}
