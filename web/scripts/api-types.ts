/**
 * Generates the web app's API types from the server's own OpenAPI document, so the client
 * cannot drift from the routes. The app is built in memory (no port, no disk database);
 * `npm run api:types` rewrites web/src/lib/api/schema.ts and a test fails when it is stale.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';
import { buildApp } from '../../src/http/app.js';
import { createPgliteDb } from '../../src/storage/pglite.js';
import { buildTestContext } from '../../src/testing/context.js';

/** Where the generated types live. */
export const schemaFile = fileURLToPath(new URL('../src/lib/api/schema.ts', import.meta.url));

const header = '/* Generated from the server\'s /openapi.json by `npm run api:types`; '
  + 'do not edit. */\n';

/** The OpenAPI document exactly as /openapi.json serves it. */
export async function dumpOpenApi(): Promise<unknown> {
  const db = await createPgliteDb(undefined);
  const app = await buildApp(buildTestContext(db, { env: { STAMPEDE_WEB_DIR: '/nonexistent' } }));
  try {
    await app.ready();
    const reply = await app.inject({ method: 'GET', url: '/openapi.json' });
    return reply.json();
  } finally {
    await app.close();
    await db.close();
  }
}

/** The TypeScript source generated from the document. */
export async function generateApiTypes(): Promise<string> {
  const document = await dumpOpenApi();
  const ast = await openapiTS(document as Parameters<typeof openapiTS>[0]);
  return header + astToString(ast);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(schemaFile, await generateApiTypes());
  console.log(`wrote ${schemaFile}`);
}
