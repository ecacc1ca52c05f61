/**
 * Serves the built web app from the same process: hashed assets with a year-long cache,
 * everything else revalidated, and a single-page fallback (index.html) for client routes.
 * The fallback never answers for the API, the docs or the probes, so an unknown
 * /api/v1/... path stays a problem+json 404 and a typo never returns HTML to a machine.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { DomainError } from '../core/errors.js';
import type { App } from './types.js';

/** Paths that belong to the server; the app's client-side routes never start with them. */
export const serverPrefixes = ['/api', '/docs', '/openapi.json', '/healthz', '/readyz', '/metrics'];

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * Where the build lives: `dist/web` beside the compiled server (dist/src/http → dist/web)
 * or, running from source, under the repository's dist/.
 */
export function defaultWebDir(): string | undefined {
  const candidates = [path.resolve(here, '../../web'), path.resolve(here, '../../dist/web')];
  return candidates.find((dir) => existsSync(path.join(dir, 'index.html')));
}

/** True when a request path belongs to the server rather than the web app. */
export function isServerPath(urlPath: string): boolean {
  return serverPrefixes.some((prefix) =>
    urlPath === prefix || urlPath.startsWith(`${prefix}/`) || urlPath.startsWith(`${prefix}?`));
}

function setCacheHeaders(reply: FastifyReply, filePath: string): void {
  // Vite names every asset under assets/ by its content hash, so it never changes in place.
  const hashed = filePath.split(path.sep).includes('assets');
  reply.header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
}

/** Registers static serving and the fallback; does nothing when there is no build. */
export async function webRoutes(app: App, ctx: AppContext): Promise<void> {
  const root = ctx.config.webDir ?? defaultWebDir();
  if (root === undefined || !existsSync(path.join(root, 'index.html'))) {
    ctx.logger.warn('no web app build found (npm run build); serving the API only');
    return;
  }
  await app.register(fastifyStatic, {
    root,
    // Files are listed once at start (a build does not change under a running server).
    wildcard: false,
    preCompressed: true,
    cacheControl: false,
    setHeaders: setCacheHeaders,
    index: false,
    schemaHide: true,
  });
  const fallback = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const urlPath = request.url.split('?')[0] ?? '/';
    // A missing hashed file is a stale page asking for an old build: say so, not index.html.
    if (isServerPath(urlPath) || urlPath.startsWith('/assets/')) {
      throw new DomainError('not_found', `no route ${request.method} ${urlPath}`);
    }
    return reply.sendFile('index.html');
  };
  app.get('/', { schema: { hide: true } }, fallback);
  app.get('/*', { schema: { hide: true } }, fallback);
}
