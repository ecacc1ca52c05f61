/**
 * The one error handler: domain errors, schema failures and framework errors become
 * problem+json with a catalogued code; a database too busy to answer (a lock or statement
 * timeout, no free connection) is a 503 with `Retry-After`; anything unexpected is logged
 * with the request id and answered as a bare 500 (no stack, no SQL).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { DomainError, type ErrorCode } from '../../core/errors.js';
import { isDatabaseBusy } from '../../storage/index.js';
import { problem, problemContentType } from '../problem.js';

interface AjvIssue {
  instancePath: string;
  schemaPath?: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Issues that say the body has another shape, not a wrong value. */
const shapeKeywords = new Set(['required', 'additionalProperties']);

/** A JSON pointer (`/a/0`, or a schema path `#/a/0`) resolved in `root`, if it is there. */
function resolvePointer(root: unknown, pointer: string): unknown {
  let at = root;
  for (const raw of pointer.replace(/^#/, '').split('/').slice(1)) {
    if (at === null || typeof at !== 'object') return undefined;
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

/**
 * How many members of the value the union judged (`instance`) branch `index` of the union
 * schema (`union`) names: the shape the client meant names the members it sent.
 */
function knownMembers(union: unknown, index: string, instance: unknown): number {
  if (instance === null || typeof instance !== 'object' || !Array.isArray(union)) return 0;
  const properties = (union[Number(index)] as { properties?: unknown } | undefined)?.properties;
  if (properties === null || typeof properties !== 'object') return 0;
  return Object.keys(instance).filter((key) => Object.hasOwn(properties, key)).length;
}

/** Where the request part that failed validation, and its schema, can be read. */
interface ValidatedPart {
  /** The part's schema (the route's body schema), when known. */
  schema?: unknown;
  /** The part's value as validated (the parsed body). */
  value?: unknown;
}

/**
 * A body that matches no branch of a union (`anyOf`, e.g. a hold's `{seats}` or
 * `{zone, quantity}`) gets one issue per branch: the client meant one of them. Keeps the
 * issues of the branch that failed on the fewest shape issues, then the one naming the
 * most of the members the client sent, then the one with the fewest issues. So
 * `{zone, quantity: 0}` is told about its quantity, not that `seats` is missing, and
 * `{zone}` that `quantity` is missing, not `seats`.
 */
function closestBranch(issues: AjvIssue[], part: ValidatedPart = {}): AjvIssue[] {
  const union = issues.find((issue) => issue.keyword === 'anyOf' || issue.keyword === 'oneOf');
  if (union?.schemaPath === undefined) return issues;
  const prefix = `${union.schemaPath}/`;
  const branches = new Map<string, AjvIssue[]>();
  for (const issue of issues) {
    if (issue.schemaPath?.startsWith(prefix) !== true) continue;
    const branch = issue.schemaPath.slice(prefix.length).split('/')[0] ?? '';
    branches.set(branch, [...(branches.get(branch) ?? []), issue]);
  }
  const unionSchema = resolvePointer(part.schema, union.schemaPath);
  const instance = resolvePointer(part.value, `#${union.instancePath}`);
  const score = (index: string, branch: AjvIssue[]): number[] => [
    branch.filter((issue) => shapeKeywords.has(issue.keyword)).length,
    -knownMembers(unionSchema, index, instance),
    branch.length,
  ];
  let best: { score: number[]; issues: AjvIssue[] } | undefined;
  for (const [index, branch] of branches) {
    const scored = { score: score(index, branch), issues: branch };
    if (best === undefined || before(scored.score, best.score)) best = scored;
  }
  return best?.issues ?? issues;
}

/** True when score `a` sorts strictly before `b` (lexicographic, lower first). */
function before(a: number[], b: number[]): boolean {
  for (const [i, value] of a.entries()) {
    const other = b[i] ?? 0;
    if (value !== other) return value < other;
  }
  return false;
}

/** Ajv issues → `[{in, field, message}]`: the request part and a JSON pointer into it. */
function fieldErrors(
  issues: AjvIssue[], part: string,
): { in: string; field: string; message: string }[] {
  return issues.map((issue) => {
    let field = issue.instancePath;
    let message = issue.message ?? issue.keyword;
    if (issue.keyword === 'required') field += `/${String(issue.params.missingProperty)}`;
    if (issue.keyword === 'additionalProperties') {
      field += `/${String(issue.params.additionalProperty)}`;
      message = 'unknown field';
    }
    return { in: part, field: field === '' ? '/' : field, message };
  });
}

/** The schema and value of the request part that failed validation (the body only). */
function validatedPart(request: FastifyRequest, context: string): ValidatedPart {
  if (context !== 'body') return {};
  return { schema: request.routeOptions.schema?.body, value: request.body };
}

function send(reply: FastifyReply, code: ErrorCode, detail?: string, extra = {}): FastifyReply {
  const body = problem(code, detail, extra);
  return reply.status(body.status).type(problemContentType).send(body);
}

const frameworkCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
};

/**
 * Every error as problem+json. Also Fastify's `frameworkErrors` hook: a URL that cannot be
 * decoded or a path parameter past the router's length cap is answered before any route
 * runs, and would otherwise get Fastify's own JSON instead of a problem document.
 */
export function handleError(
  error: FastifyError, request: FastifyRequest, reply: FastifyReply,
): FastifyReply {
  // A framework error is answered before any hook runs, the app's x-request-id one included.
  if (!reply.hasHeader('x-request-id')) reply.header('x-request-id', request.id);
  if (error instanceof DomainError) {
    const retryAfter = error.extra.retryAfterSeconds;
    if (!reply.hasHeader('retry-after')
      && (error.code === 'rate_limited' || typeof retryAfter === 'number')) {
      reply.header('retry-after', String(retryAfter ?? 1));
    }
    return send(reply, error.code, error.message, error.extra);
  }
  if (error.validation) {
    const context = error.validationContext ?? 'body';
    const errors = fieldErrors(
      closestBranch(error.validation as AjvIssue[], validatedPart(request, context)), context);
    const first = errors[0];
    const detail = first === undefined
      ? error.message
      : `${first.in} ${first.field}: ${first.message}`;
    return send(reply, 'validation_failed', detail, { errors });
  }
  const mapped = error.code === undefined ? undefined : frameworkCodes[error.code];
  if (mapped !== undefined) return send(reply, mapped, error.message);
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    // Malformed JSON, prototype poisoning, empty bodies: the client's fault, said plainly.
    return send(reply, status === 404 ? 'not_found' : 'validation_failed', error.message);
  }
  if (isDatabaseBusy(error)) {
    // A lock or statement timeout, or no free connection: the database is too busy now and
    // the request changed nothing, so the client may send it again shortly.
    request.log.warn({ err: error, reqId: request.id }, 'database busy');
    if (!reply.hasHeader('retry-after')) reply.header('retry-after', '1');
    return send(reply, 'service_unavailable', 'the database is busy: retry shortly');
  }
  request.log.error({ err: error, reqId: request.id }, 'unhandled error');
  return send(reply, 'internal_error', undefined, { instance: request.id });
}

/** Registers the error and not-found handlers. */
export const errorsPlugin = fp(async (app: FastifyInstance) => {
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    send(reply, 'not_found', `no route ${request.method} ${request.url.split('?')[0]}`),
  );
});
