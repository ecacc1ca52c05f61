/** A shopper's slot: the one SQL rule for whether an admission still holds a place. */

/**
 * SQL predicate: the admission `a` holds a live slot at `$now` — not released, not expired,
 * and claimed or still inside its claim grace.
 */
export function liveSlot(alias: string, nowParam: string): string {
  return `${alias}.released_at IS NULL AND ${alias}.expires_at > ${nowParam}
    AND (${alias}.claimed_at IS NOT NULL OR ${alias}.claim_by > ${nowParam})`;
}

/**
 * liveSlot() for a statement that names one admission by its key (event, customer): the
 * same rule inside a CASE, which the planner neither matches to an index nor proves a
 * partial index's predicate from. Written bare, the rule's `released_at IS NULL` and
 * `expires_at > now` made queue_admissions_open_idx a candidate path, and on statistics
 * from an empty sale the planner took it: a walk of every open admission of the event
 * (2,000–30,000) to update one row (bench/planAudit.ts). Now the primary key is the only
 * index the WHERE can use.
 */
export function keyedLiveSlot(alias: string, nowParam: string): string {
  return `CASE WHEN ${liveSlot(alias, nowParam)} THEN true ELSE false END`;
}
