#!/usr/bin/env node
/**
 * The `stampede` command: serve (default), migrate, seed --demo.
 */
import { boot, shutdown } from '../boot.js';
import { seedDemo } from '../catalog/demo.js';
import { ConfigError, loadConfig } from '../config/index.js';
import { describeTarget } from '../coord/connect.js';
import { startServer } from '../server.js';

const usage = `usage: stampede [serve | migrate | seed --demo | simulate [options]]

  serve          run the server (default); migrates, and seeds the demo on an empty database
  migrate        apply pending database migrations and exit
  seed --demo    add the demo venue and events if the database has no events, and exit
  simulate       replay a flash sale and audit it (stampede simulate --help)

Configuration comes from the environment; see README.md.`;

async function serve(): Promise<void> {
  const ctx = await boot(loadConfig());
  if (ctx.config.seedDemo) {
    const eventId = await seedDemo(ctx.db, ctx.clock);
    if (eventId !== undefined) ctx.logger.info({ eventId }, 'seeded the demo venue and event');
  }
  const { url } = await startServer(ctx);
  const coordination = ctx.config.redis === undefined
    ? 'in-process'
    : describeTarget(ctx.config.redis);
  const where = ctx.config.databaseUrl === undefined ? `embedded (${ctx.config.dataDir})` : 'PostgreSQL';
  process.stdout.write(
    `\nStampede is running at ${url}\n` +
    `  API docs:     ${url}/docs\n` +
    `  database:     ${where}\n` +
    `  coordination: ${coordination}\n` +
    (ctx.secrets.adminTokenGenerated
      ? `  admin token:  ${ctx.secrets.adminToken}  (kept in ${ctx.config.dataDir}/secrets.json)\n`
      : '  admin token:  from STAMPEDE_ADMIN_TOKEN\n'),
  );
}

async function once(work: (ctx: Awaited<ReturnType<typeof boot>>) => Promise<void>): Promise<void> {
  const ctx = await boot(loadConfig());
  try {
    await work(ctx);
  } finally {
    await shutdown(ctx);
  }
}

async function simulateCommand(argv: string[]): Promise<void> {
  const { OptionError, parseOptions, usage: simUsage } = await import('../../sim/options.js');
  if (argv.includes('--help')) {
    process.stdout.write(`${simUsage}\n`);
    return;
  }
  let options;
  try {
    options = parseOptions(argv, process.env);
  } catch (error) {
    if (!(error instanceof OptionError) && !(error instanceof TypeError)) throw error;
    process.stderr.write(`${error.message}\n\n${simUsage}\n`);
    process.exitCode = 2;
    return;
  }
  const { simulate, writeReport } = await import('../../sim/run.js');
  const report = await simulate(options);
  process.stdout.write(writeReport(report, options.reportDir));
  process.stdout.write(`report written to ${options.reportDir}/report.html\n`);
  if (report.audit !== null && !report.audit.ok) process.exitCode = 1;
}

async function main(argv: string[]): Promise<void> {
  const [command = 'serve', ...rest] = argv;
  switch (command) {
    case 'serve':
      return await serve();
    case 'migrate':
      return await once(async () => {
        process.stdout.write('database schema is up to date\n');
      });
    case 'seed':
      if (!rest.includes('--demo')) break;
      return await once(async (ctx) => {
        const eventId = await seedDemo(ctx.db, ctx.clock);
        process.stdout.write(eventId === undefined
          ? 'database already has events; nothing seeded\n'
          : `seeded the demo event ${eventId}\n`);
      });
    case 'simulate':
      return await simulateCommand(rest);
    case 'help':
    case '--help':
      process.stdout.write(`${usage}\n`);
      return;
  }
  process.stderr.write(`${usage}\n`);
  process.exitCode = 2;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(`stampede: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  }
  process.exit(1);
});
