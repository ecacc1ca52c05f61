/**
 * The accessible alternative to the canvas: choose a section, then a row, then toggle seats
 * in a list of buttons whose names say row, seat, price and status. Only one row is in the
 * DOM at a time, so a 50,000-seat venue stays light.
 */
import { useId, useState, useSyncExternalStore } from 'react';
import { copy } from '../../../lib/copy';
import { formatCount, formatMoney } from '../../../lib/format';
import { AVAILABLE, statusNames } from '../lib/scene';
import type { SeatStore } from '../lib/seatStore';

export interface SeatListProps {
  store: SeatStore;
  selected: ReadonlySet<string>;
  onToggleSeat(seatId: string): void;
}

export function SeatList({ store, selected, onToggleSeat }: SeatListProps) {
  useSyncExternalStore(store.subscribe, store.getRevision);
  const { scene } = store;
  const seated = scene.sections.map((s, i) => ({ s, i })).filter(({ s }) => s.kind === 'seated');
  const [sectionIndex, setSectionIndex] = useState(seated[0]?.i ?? -1);
  const [rowIndex, setRowIndex] = useState(0);
  const sectionId = useId();
  const rowId = useId();
  const section = scene.sections[sectionIndex];
  if (section === undefined) return null;
  const zone = scene.zones[section.zone];
  const price = zone ? formatMoney(zone.priceCents, zone.currency) : '';
  const row = section.rows[Math.min(rowIndex, section.rows.length - 1)];
  return (
    <div className="seat-list">
      <div className="row">
        <div className="field">
          <label htmlFor={sectionId}>{copy.seatmap.listSection}</label>
          <select id={sectionId} value={sectionIndex} onChange={(e) => {
            setSectionIndex(Number(e.target.value));
            setRowIndex(0);
          }}>
            {seated.map(({ s, i }) => (
              <option key={s.key} value={i}>
                {copy.seatmap.sectionOption(s.name, scene.zones[s.zone]?.name ?? '',
                  formatCount(store.sectionCounts[i]?.available ?? 0))}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={rowId}>{copy.seatmap.listRow}</label>
          <select id={rowId} value={rowIndex} onChange={(e) => setRowIndex(Number(e.target.value))}>
            {section.rows.map((r, i) => <option key={r.label} value={i}>{r.label}</option>)}
          </select>
        </div>
      </div>
      {row !== undefined && (
        <fieldset className="seat-buttons">
          <legend>{copy.seatmap.listSeats(row.label)}</legend>
          {Array.from({ length: row.count }, (_, k) => {
            const index = row.firstSeat + k;
            const id = scene.ids[index] as string;
            const status = store.status[index] as number;
            const isSelected = selected.has(id);
            const label = copy.seatmap.seatAria(row.label, scene.numberOf[index] as number, price,
              isSelected ? copy.seatmap.selected
                : copy.seatmap.status[statusNames[status] ?? 'sold'] ?? '');
            return (
              <button key={id} type="button" aria-pressed={isSelected} aria-label={label}
                className={`seat-button status-${statusNames[status]}`}
                disabled={status !== AVAILABLE && !isSelected}
                onClick={() => onToggleSeat(id)}>
                {scene.numberOf[index]}
              </button>
            );
          })}
        </fieldset>
      )}
    </div>
  );
}
