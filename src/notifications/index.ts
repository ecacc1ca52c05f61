/**
 * Notifications, wired for one node: the outbox sink (registered with the relay in
 * roles/worker.ts) with the live channel, and the e-mail channel and its dispatcher when
 * SMTP_URL is set.
 */
import type { AppContext } from '../context.js';
import type { OutboxSink } from '../outbox/relay.js';
import { EmailNotifier } from './email.js';
import { EmailDispatcher, notificationSink } from './sink.js';
import { StreamNotifier } from './stream.js';

export type { Notifier, Notice, Delivery, NotificationMessage } from './types.js';

/** The node's notification duties; stop them on shutdown. */
export interface Notifications {
  sink: OutboxSink;
  /** Present when e-mail is configured. */
  dispatcher: EmailDispatcher | undefined;
  stop(): Promise<void>;
}

/** Builds the sink and, with SMTP_URL, starts the e-mail dispatcher. */
export function startNotifications(ctx: AppContext): Notifications {
  const { smtpUrl, smtpFrom, publicUrl } = ctx.config;
  const email = smtpUrl === undefined ? undefined
    : new EmailNotifier({ smtpUrl, from: smtpFrom, publicUrl, logger: ctx.logger });
  const dispatcher = email === undefined ? undefined
    : new EmailDispatcher(ctx.db, email, ctx.logger);
  dispatcher?.start();
  return {
    sink: notificationSink({ db: ctx.db, stream: new StreamNotifier(ctx.coord),
      ...(dispatcher === undefined ? {} : { email: dispatcher }) }),
    dispatcher,
    async stop() {
      await dispatcher?.stop();
      email?.close();
    },
  };
}
