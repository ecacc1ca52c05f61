/** A shopper's slot: the one SQL rule for whether an admission still holds a place. */

/**
 * SQL predicate: the admission `a` holds a live slot at `$now` — not released, not expired,
 * and claimed or still inside its claim grace.
 */
export function liveSlot(alias: string, nowParam: string): string {
  return `${alias}.released_at IS NULL AND ${alias}.expires_at > ${nowParam}
    AND (${alias}.claimed_at IS NOT NULL OR ${alias}.claim_by > ${nowParam})`;
}
