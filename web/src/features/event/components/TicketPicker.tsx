/**
 * Tickets picked by the server: best available seats in a seated zone, or a quantity of a
 * standing area. One form; the zone's kind decides the wording.
 */
import { useEffect, useId, useState, useSyncExternalStore, type FormEvent } from 'react';
import { copy } from '../../../lib/copy';
import { formatMoney } from '../../../lib/format';
import type { SeatStore } from '../../seatmap';

export interface TicketPickerProps {
  store: SeatStore;
  maxQuantity: number;
  busy: boolean;
  disabled: boolean;
  /** A standing section picked on the map preselects its zone. */
  zoneHint: string | undefined;
  onPick(zone: string, quantity: number): void;
}

export function TicketPicker(props: TicketPickerProps) {
  const { store, maxQuantity, busy, disabled, zoneHint, onPick } = props;
  useSyncExternalStore(store.subscribe, store.getRevision);
  const zones = store.scene.zones;
  const firstOpen = zones.findIndex((_, z) => (store.zoneCounts[z]?.available ?? 0) > 0);
  const [chosen, setChosen] = useState<string>();
  useEffect(() => {
    if (zoneHint !== undefined) setChosen(zoneHint);
  }, [zoneHint]);
  const zoneKey = chosen ?? zones[Math.max(0, firstOpen)]?.key ?? '';
  const zoneIndex = zones.findIndex((z) => z.key === zoneKey);
  const zone = zones[zoneIndex];
  const left = store.zoneCounts[zoneIndex]?.available ?? 0;
  const max = Math.max(1, Math.min(maxQuantity, left));
  const [quantity, setQuantity] = useState(2);
  const zoneId = useId();
  const quantityId = useId();
  const standing = zone?.standing === true && !zone.seated;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (zone !== undefined) onPick(zone.key, Math.min(quantity, max));
  };
  return (
    <form className="card stack picker" onSubmit={submit} aria-labelledby={`${zoneId}-t`}>
      <h3 id={`${zoneId}-t`}>{standing ? copy.event.standingTitle : copy.event.bestTitle}</h3>
      <p className="muted small">{standing ? '' : copy.event.bestHint}</p>
      <div className="row">
        <div className="field grow">
          <label htmlFor={zoneId}>{copy.event.zone}</label>
          <select id={zoneId} value={zoneKey} onChange={(e) => setChosen(e.target.value)}>
            {zones.map((z, i) => (
              <option key={z.key} value={z.key}>
                {z.name} · {formatMoney(z.priceCents, z.currency)}
                {(store.zoneCounts[i]?.available ?? 0) === 0 ? ` · ${copy.event.noneLeft}` : ''}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={quantityId}>{copy.event.quantity}</label>
          <select id={quantityId} value={Math.min(quantity, max)}
            onChange={(e) => setQuantity(Number(e.target.value))}>
            {Array.from({ length: max }, (_, i) => i + 1).map((n) => (
              <option key={n} value={n}>{n}</option>
            ))}
          </select>
        </div>
      </div>
      <button type="submit" className="button" disabled={disabled || busy || left === 0}>
        {busy ? copy.event.holding : standing ? copy.event.addStanding : copy.event.findSeats}
      </button>
    </form>
  );
}
