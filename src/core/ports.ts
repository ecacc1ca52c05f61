import net from 'node:net';

/**
 * A free loopback port, closed again before returning. Used where a server must know its
 * own URL before it listens (the simulated gateway posts webhooks to PUBLIC_URL).
 */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
