/** The per-request logger: the request id on every line, a pino child only when one is written. */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { requestLogger } from './requestLogger.js';

function capture(level: string): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level }, sink), lines };
}

describe('requestLogger', () => {
  it('binds the request id to every line it writes, through one child', () => {
    const { logger, lines } = capture('info');
    const child = vi.spyOn(logger, 'child');
    const log = requestLogger(logger, { reqId: 'r-1' }, {});
    log.info({ a: 1 }, 'first');
    log.error('second');
    expect(child).toHaveBeenCalledTimes(1);
    log.child({ part: 'x' }).warn('third');
    expect(lines.map((line) => [line.reqId, line.msg])).toEqual([
      ['r-1', 'first'], ['r-1', 'second'], ['r-1', 'third'],
    ]);
    expect(lines[0]?.a).toBe(1);
    expect(lines[2]?.part).toBe('x');
  });

  it('makes no child for lines below the level, and none for a request that never logs', () => {
    const { logger, lines } = capture('warn');
    const child = vi.spyOn(logger, 'child');
    const log = requestLogger(logger, { reqId: 'r-2' }, {});
    log.info('dropped');
    log.debug('dropped too');
    expect(log.level).toBe('warn');
    expect(child).not.toHaveBeenCalled();
    log.warn('kept');
    expect(child).toHaveBeenCalledTimes(1);
    expect(lines.map((line) => [line.reqId, line.msg])).toEqual([['r-2', 'kept']]);
  });

  it('follows a level set on the request logger itself', () => {
    const { logger, lines } = capture('warn');
    const log = requestLogger(logger, { reqId: 'r-3' }, {});
    log.level = 'debug';
    log.debug('now kept');
    expect(lines.map((line) => line.msg)).toEqual(['now kept']);
    expect(logger.level).toBe('warn');
  });
});
