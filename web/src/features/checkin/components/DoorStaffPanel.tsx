/**
 * For the organizer: hand door staff a link that checks tickets in at this event only
 * (a check-in token, never the admin token), see the links handed out, revoke one at once.
 */
import { useState, type FormEvent } from 'react';
import { limits } from '@server/config/limits';
import { ProblemMessage } from '../../../components/ProblemMessage';
import { copy } from '../../../lib/copy';
import { formatDateTime } from '../../../lib/format';
import { useAsync } from '../../../lib/useAsync';
import { createDoorToken, listDoorTokens, revokeDoorToken } from '../api/checkins';
import { doorLink } from '../api/doorSession';

export function DoorStaffPanel({ eventId }: { eventId: string }) {
  const text = copy.checkin.staff;
  const tokens = useAsync(async () => await listDoorTokens(eventId), [eventId]);
  const [label, setLabel] = useState('');
  const [hours, setHours] = useState(12);
  const [link, setLink] = useState<string>();
  const [error, setError] = useState<unknown>();
  const create = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    try {
      const created = await createDoorToken(eventId, label.trim() || text.defaultLabel, hours);
      setLink(doorLink(window.location.origin, eventId, created.token));
      setLabel('');
      tokens.reload();
    } catch (failure) {
      setError(failure);
    }
  };
  const revoke = async (tokenId: string) => {
    setError(undefined);
    try {
      await revokeDoorToken(eventId, tokenId);
      tokens.reload();
    } catch (failure) {
      setError(failure);
    }
  };
  const live = tokens.data?.filter((t) => t.revokedAt === null) ?? [];
  return (
    <section className="card stack door-staff" aria-labelledby="door-staff-title">
      <h2 id="door-staff-title">{text.title}</h2>
      <p className="muted small">{text.help}</p>
      <form className="row" onSubmit={(e) => void create(e)}>
        <label className="grow">
          <span>{text.label}</span>
          <input value={label} maxLength={100} onChange={(e) => setLabel(e.target.value)}
            placeholder={text.defaultLabel} />
        </label>
        <label>
          <span>{text.hours}</span>
          <input type="number" min={1} max={limits.checkinTokenHoursMax} value={hours}
            onChange={(e) => setHours(Number(e.target.value))} />
        </label>
        <button type="submit" className="secondary">{text.create}</button>
      </form>
      {link && (
        <div className="notice ok" role="status">
          <p>{text.created}</p>
          <p><a href={link} data-testid="door-link" className="door-link">{link}</a></p>
        </div>
      )}
      <ProblemMessage error={error ?? tokens.error} />
      {live.length > 0 && (
        <ul className="door-tokens">
          {live.map((t) => (
            <li key={t.tokenId} className="row spread">
              <span>{t.label} · {text.until(formatDateTime(t.expiresAt))}</span>
              <button type="button" className="secondary small"
                onClick={() => void revoke(t.tokenId)}>{text.revoke(t.label)}</button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
