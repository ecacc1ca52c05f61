/**
 * The e-mail channel, over SMTP with nodemailer (SMTP_URL). Each delivery is one plain-text
 * message; a message the server refuses is left out of the delivered ids and retried later
 * by the dispatcher, so a flaky mail server costs retries, never a lost notice.
 */
import nodemailer, { type SendMailOptions, type Transporter } from 'nodemailer';
import type { Delivery, Notifier } from './types.js';

/** What the e-mail channel needs. */
export interface EmailOptions {
  /** smtp://user:pass@host:port or smtps://… */
  smtpUrl: string;
  /** The From header, e.g. `Stampede <tickets@example.com>`. */
  from: string;
  /** Links in messages point here (this node's PUBLIC_URL). */
  publicUrl: string;
  logger: { warn(obj: object, msg?: string): void };
}

/** Sends notices by e-mail through one pooled SMTP transport. */
export class EmailNotifier implements Notifier {
  readonly channel = 'email' as const;
  private readonly transport: Transporter;

  constructor(private readonly options: EmailOptions) {
    // A pool of a few kept-open connections: an admission tick can mean thousands of
    // messages, and a connection per message would be refused by most servers.
    const url = new URL(options.smtpUrl);
    if (!url.searchParams.has('pool')) url.searchParams.set('pool', 'true');
    this.transport = nodemailer.createTransport(url.toString());
  }

  async deliver(deliveries: readonly Delivery[]): Promise<readonly number[]> {
    const sent = await Promise.all(deliveries.map(async (delivery) => {
      try {
        await this.transport.sendMail(this.message(delivery));
        return delivery.id;
      } catch (error) {
        this.options.logger.warn({ err: error, notificationId: delivery.id },
          'notification e-mail refused; will retry');
        return undefined;
      }
    }));
    return sent.filter((id): id is number => id !== undefined);
  }

  /** Closes the SMTP connections. */
  close(): void {
    this.transport.close();
  }

  private message(delivery: Delivery): SendMailOptions {
    const { notice } = delivery;
    const link = notice.orderId !== undefined ? `/orders/${notice.orderId}`
      : notice.holdId !== undefined ? `/holds/${notice.holdId}` : `/events/${notice.eventId}`;
    return {
      from: this.options.from,
      to: delivery.email,
      subject: notice.title,
      text: `${notice.body}\n\n${new URL(link, this.options.publicUrl).toString()}\n`,
      headers: { 'X-Stampede-Notification': String(delivery.id) },
    };
  }
}
