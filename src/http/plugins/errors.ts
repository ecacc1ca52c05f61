/**
 * The one error handler: domain errors, schema failures and framework errors become
 * problem+json with a catalogued code; anything unexpected is logged with the request id
 * and answered as a bare 500 (no stack, no SQL).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { DomainError, type ErrorCode } from '../../core/errors.js';
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

/**
 * A body that matches no branch of a union (`anyOf`, e.g. a hold's `{seats}` or
 * `{zone, quantity}`) gets one issue per branch: the client meant one of them. Keeps the
 * issues of the branch that failed on the fewest shape issues (then on the fewest issues),
 * so `{zone, quantity: 0}` is told about its quantity, not that `seats` is missing.
 */
function closestBranch(issues: AjvIssue[]): AjvIssue[] {
  const union = issues.find((issue) => issue.keyword === 'anyOf' || issue.keyword === 'oneOf');
  if (union?.schemaPath === undefined) return issues;
  const prefix = `${union.schemaPath}/`;
  const branches = new Map<string, AjvIssue[]>();
  for (const issue of issues) {
    if (issue.schemaPath?.startsWith(prefix) !== true) continue;
    const branch = issue.schemaPath.slice(prefix.length).split('/')[0] ?? '';
    branches.set(branch, [...(branches.get(branch) ?? []), issue]);
  }
  const score = (branch: AjvIssue[]): [number, number] =>
    [branch.filter((issue) => shapeKeywords.has(issue.keyword)).length, branch.length];
  let best: AjvIssue[] | undefined;
  for (const branch of branches.values()) {
    if (best === undefined) {
      best = branch;
      continue;
    }
    const [shape, count] = score(branch);
    const [bestShape, bestCount] = score(best);
    if (shape < bestShape || (shape === bestShape && count < bestCount)) best = branch;
  }
  return best ?? issues;
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
    const errors = fieldErrors(closestBranch(error.validation as AjvIssue[]),
      error.validationContext ?? 'body');
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
