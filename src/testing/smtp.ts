/**
 * A real SMTP server in-process (smtp-server) for tests: it speaks the protocol to
 * nodemailer over a loopback port and keeps what it received. It can refuse the next N
 * recipients, as a struggling mail server would.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** One message as the server received it. */
export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  /** The X-Stampede-Notification header: the notification id. */
  notificationId: string | undefined;
  raw: string;
}

/** A running test SMTP server. */
export interface TestSmtp {
  /** SMTP_URL for the app. */
  url: string;
  received: ReceivedMail[];
  /** Refuse the next `count` recipients (those `address` matches) with a temporary error. */
  refuseNext(count: number, address?: string): void;
  close(): Promise<void>;
}

function header(raw: string, name: string): string | undefined {
  const head = raw.split(/\r?\n\r?\n/)[0] ?? '';
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const match = new RegExp(`^${name}: ?(.*)$`, 'im').exec(unfolded);
  return match?.[1]?.trim();
}

/** Starts a server on a free loopback port. */
export async function startTestSmtp(): Promise<TestSmtp> {
  const received: ReceivedMail[] = [];
  let refusals = 0;
  let refused: string | undefined;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (refusals > 0 && (refused === undefined || refused === address.address)) {
        refusals -= 1;
        const error = Object.assign(new Error('try again later'), { responseCode: 451 });
        callback(error);
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const { mailFrom, rcptTo } = session.envelope;
        received.push({
          from: mailFrom === false ? '' : mailFrom.address,
          to: rcptTo.map((address) => address.address),
          subject: header(raw, 'Subject') ?? '',
          notificationId: header(raw, 'X-Stampede-Notification'),
          raw,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    refuseNext(count, address) {
      refusals = count;
      refused = address;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
