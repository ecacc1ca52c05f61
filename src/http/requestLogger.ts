/**
 * Fastify's `childLoggerFactory`: each request's logger binds its request id, as Fastify's
 * default does, but the pino child behind it is made when the request first logs, not for
 * every request. Most requests never log (the per-request lines are off in production), and
 * a pino child serializes its bindings when it is made: a few µs on every request for
 * nothing. Every line a request does log carries `reqId` exactly as before.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, LogFn, Logger } from 'pino';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

class RequestLogger {
  private made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  /** The pino child, made on first use. */
  logger(): FastifyBaseLogger {
    this.made ??= this.parent.child(this.bindings, this.options);
    return this.made;
  }

  /** False when a line at `level` would be dropped (asked of pino when no child exists). */
  enabled(level: Level): boolean {
    if (this.made !== undefined || this.options.level !== undefined) return true;
    const parent = this.parent as Partial<Pick<Logger, 'isLevelEnabled'>>;
    return parent.isLevelEnabled?.(level) ?? true;
  }

  get level(): string {
    return this.made?.level ?? this.options.level ?? this.parent.level;
  }

  set level(level: string) {
    this.logger().level = level;
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.logger().child(bindings, options);
  }
}

/**
 * A log method that forwards to the request's pino child. A line the logger would drop
 * anyway (below its level, as Fastify's per-request lines are under a quiet logger) makes
 * no child: the child would inherit the same level.
 */
function forward(level: Level): LogFn {
  return function log(this: RequestLogger, ...args: unknown[]): void {
    if (!this.enabled(level)) return;
    const target = this.logger();
    Reflect.apply(target[level], target, args);
  };
}

interface RequestLogger {
  fatal: LogFn; error: LogFn; warn: LogFn; info: LogFn; debug: LogFn; trace: LogFn;
  silent: LogFn;
}
for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const) {
  RequestLogger.prototype[level] = forward(level);
}

/** Makes each request's logger (Fastify's `childLoggerFactory` option). */
export function requestLogger(
  logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions,
): FastifyBaseLogger {
  return new RequestLogger(logger, bindings, options);
}
