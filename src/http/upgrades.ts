/**
 * WebSocket upgrades, passed only to the scope of the routes that take them.
 *
 * @fastify/websocket adds an onRequest and an onResponse hook and wraps the handler of every
 * route in the scope it is registered in. Registered app-wide, every request (a join, a hold,
 * a checkout) paid for them; so it is registered in the live feed's scope only, and listens
 * to the emitter made here instead of the HTTP server. The server's upgrades for a WebSocket
 * route are passed on; any other is answered here with a 404 problem and closed: passed to
 * Fastify, a route outside that scope would answer it over a socket nobody closes (an
 * upgraded socket has no HTTP parser and no timeouts left).
 */
import { Server, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

import { problem, problemContentType } from './problem.js';

/** The paths of the WebSocket routes (live.ts): the only upgrades the app takes. */
const socketPath = /^\/api\/v1\/events\/[^/?#]+\/ws(?:[?#]|$)/;

/** True when an upgrade for this request URL goes to a WebSocket route. */
export function takesWebSocket(url: string | undefined): boolean {
  return url !== undefined && socketPath.test(url);
}

function refuse(socket: Duplex): void {
  const body = JSON.stringify(problem('not_found', 'no WebSocket endpoint at this path'));
  socket.end(`HTTP/1.1 404 Not Found\r\nContent-Type: ${problemContentType}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/**
 * Listens to `server`'s upgrades and returns the emitter the WebSocket plugin should listen
 * to (its `server` option): an HTTP server that never listens, only re-emitted to, so the
 * option keeps its type. `stop` removes the listener.
 */
export function routeUpgrades(server: Server): { upgrades: Server; stop: () => void } {
  const upgrades = new Server();
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (takesWebSocket(request.url)) upgrades.emit('upgrade', request, socket, head);
    else refuse(socket);
  };
  server.on('upgrade', onUpgrade);
  return { upgrades, stop: () => server.off('upgrade', onUpgrade) };
}
