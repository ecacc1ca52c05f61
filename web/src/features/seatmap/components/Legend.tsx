/** What the colours mean: one swatch per zone (with price and places left) and per status. */
import { useSyncExternalStore } from 'react';
import { copy } from '../../../lib/copy';
import { formatCount, formatMoney } from '../../../lib/format';
import { colors } from '../lib/draw';
import type { SeatStore } from '../lib/seatStore';

export function Legend({ store }: { store: SeatStore }) {
  useSyncExternalStore(store.subscribe, store.getRevision);
  const { zones } = store.scene;
  return (
    <div className="legend" aria-label={copy.seatmap.legend} role="group">
      <ul className="legend-zones">
        {zones.map((zone, z) => (
          <li key={zone.key}>
            <span className="swatch" style={{ background: zone.color }} aria-hidden="true" />
            <span className="legend-name">{zone.name}</span>
            <span className="legend-price">{formatMoney(zone.priceCents, zone.currency)}</span>
            <span className="muted small">
              {copy.search.available(formatCount(store.zoneCounts[z]?.available ?? 0))}
            </span>
          </li>
        ))}
      </ul>
      <ul className="legend-status">
        <li><span className="swatch" style={{ background: colors.held }} aria-hidden="true" />
          {copy.seatmap.held}</li>
        <li><span className="swatch" style={{ background: colors.sold }} aria-hidden="true" />
          {copy.seatmap.sold}</li>
        <li><span className="swatch" style={{ background: colors.selected }} aria-hidden="true" />
          {copy.seatmap.selected}</li>
        <li>
          <span className="swatch ring" style={{ borderColor: colors.taken }} aria-hidden="true" />
          {copy.seatmap.taken}</li>
      </ul>
    </div>
  );
}
