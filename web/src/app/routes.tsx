/**
 * The route table: every page of the app, matched in order. Pages are loaded on demand, so a
 * fan's first visit downloads the search page only and organizer pages never reach fans.
 */
import { lazy, type ComponentType, type LazyExoticComponent } from 'react';
import { patterns } from '../lib/paths';

type Page = LazyExoticComponent<ComponentType>;

function page<M>(load: () => Promise<M>, pick: (module: M) => ComponentType): Page {
  return lazy(async () => ({ default: pick(await load()) }));
}

/** One route: a URL pattern and the page that renders it. */
export interface RouteEntry {
  path: string;
  page: Page;
  /** The page matches everything under `path` and routes the rest itself. */
  nest?: boolean;
}

export const routes: RouteEntry[] = [
  { path: patterns.home, page: page(() => import('../features/search'), (m) => m.SearchPage) },
  { path: patterns.login, page: page(() => import('../features/account'), (m) => m.LoginPage) },
  {
    path: patterns.register,
    page: page(() => import('../features/account'), (m) => m.RegisterPage),
  },
  { path: patterns.event, page: page(() => import('../features/event'), (m) => m.EventPage) },
  { path: patterns.queue, page: page(() => import('../features/queue'), (m) => m.QueuePage) },
  {
    path: patterns.checkout,
    page: page(() => import('../features/checkout'), (m) => m.CheckoutPage),
  },
  { path: patterns.order, page: page(() => import('../features/orders'), (m) => m.OrderPage) },
  {
    path: patterns.myOrders,
    page: page(() => import('../features/orders'), (m) => m.MyOrdersPage),
  },
  {
    path: patterns.organizerDashboard,
    page: page(() => import('../features/dashboard'), (m) => m.DashboardPage),
  },
  {
    path: patterns.organizerCheckin,
    page: page(() => import('../features/checkin'), (m) => m.CheckinPage),
  },
  {
    path: patterns.organizer,
    nest: true,
    page: page(() => import('../features/organizer'), (m) => m.OrganizerApp),
  },
];
