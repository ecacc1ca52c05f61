/** RFC 9457 problem details: the one shape of every error reply. */
import { Type, type Static } from 'typebox';
import { errorCatalogue, type ErrorCode } from '../core/errors.js';

export const problemContentType = 'application/problem+json';

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    code: Type.String(),
    instance: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);
export type Problem = Static<typeof Problem>;

/** The documentation URI of an error code (docs/ERRORS.md anchors). */
export function problemType(code: ErrorCode): string {
  return `https://stampede.dev/errors#${code.replaceAll('_', '-')}`;
}

/** Builds the problem body for a catalogued code. */
export function problem(
  code: ErrorCode, detail: string | undefined, extra: Record<string, unknown> = {},
): Problem {
  const entry = errorCatalogue[code];
  return {
    ...extra,
    type: problemType(code),
    title: entry.title,
    status: entry.status,
    ...(detail === undefined ? {} : { detail }),
    code,
  };
}

/** Response schemas for the error statuses a route can answer, for OpenAPI. */
export function problemResponses(...statuses: number[]): Record<number, typeof Problem> {
  return Object.fromEntries(statuses.map((status) => [status, Problem]));
}
