/** Route-level hooks added from `onRoute`, where only some routes (or each route) need one. */

/**
 * A route's hook list with `hook` added last, as a new array: Fastify copies a GET route's
 * options for its HEAD route before `onRoute` runs, so pushing into a shared array would add
 * the hook to the HEAD route a second time.
 */
export function appendHook<H>(hooks: H | H[] | undefined, hook: H): H[] {
  if (hooks === undefined) return [hook];
  return Array.isArray(hooks) ? [...hooks, hook] : [hooks, hook];
}
