/**
 * Join or leave an event's waitlist, and see the entry's state. An offer links straight to
 * checkout: it is a hold made in the fan's name.
 */
import { useId, useState, type FormEvent } from 'react';
import { Link } from 'wouter';
import { limits } from '@server/config/limits';
import { ProblemMessage } from '../../../components/ProblemMessage';
import { copy } from '../../../lib/copy';
import { paths } from '../../../lib/paths';
import { useAsync } from '../../../lib/useAsync';
import { useOfferArrivals } from '../../notices';
import { joinWaitlist, leaveWaitlist, myWaitlist, type WaitlistEntry } from '../api/waitlist';

export interface WaitlistPanelProps {
  eventId: string;
  zones: { key: string; name: string }[];
  maxQuantity: number;
}

function EntryState({ entry }: { entry: WaitlistEntry }) {
  if (entry.status === 'waiting') return <p>{copy.waitlist.waiting(entry.position)}</p>;
  if (entry.status === 'offered') {
    return (
      <div className="notice ok">
        <p>{copy.waitlist.offered}</p>
        {entry.holdId && (
          <Link href={paths.checkout(entry.holdId)} className="button">
            {copy.waitlist.buyOffer}
          </Link>
        )}
      </div>
    );
  }
  if (entry.status === 'closed') return <p>{copy.waitlist.closed}</p>;
  return <p>{entry.status === 'fulfilled' ? copy.waitlist.fulfilled : copy.waitlist.left}</p>;
}

export function WaitlistPanel({ eventId, zones, maxQuantity }: WaitlistPanelProps) {
  // An offer arriving live changes the entry: read it again.
  const entries = useAsync(myWaitlist, [eventId, useOfferArrivals()]);
  const [error, setError] = useState<unknown>();
  const zoneId = useId();
  const quantityId = useId();
  const entry = entries.data?.find((e) => e.eventId === eventId && e.status !== 'left');
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const zone = String(data.get('zone') ?? '');
    setError(undefined);
    try {
      await joinWaitlist(eventId, zone === '' ? undefined : zone, Number(data.get('quantity')));
      entries.reload();
    } catch (failure) {
      setError(failure);
    }
  };
  const leave = async () => {
    setError(undefined);
    try {
      await leaveWaitlist(eventId);
      entries.reload();
    } catch (failure) {
      setError(failure);
    }
  };
  const max = Math.min(maxQuantity, limits.waitlistQuantityMax);
  return (
    <section className="card stack" aria-labelledby={`${zoneId}-title`}>
      <h2 id={`${zoneId}-title`}>{copy.waitlist.title}</h2>
      <ProblemMessage error={error} />
      {entry !== undefined ? (
        <>
          <EntryState entry={entry} />
          {entry.status === 'waiting' && (
            <button type="button" className="secondary" onClick={() => void leave()}>
              {copy.waitlist.leave}
            </button>
          )}
        </>
      ) : (
        <form className="stack" onSubmit={(e) => void submit(e)}>
          <p className="muted">{copy.waitlist.intro}</p>
          <div className="row">
            <div className="field">
              <label htmlFor={zoneId}>{copy.event.zone}</label>
              <select id={zoneId} name="zone">
                <option value="">{copy.waitlist.anyZone}</option>
                {zones.map((z) => <option key={z.key} value={z.key}>{z.name}</option>)}
              </select>
            </div>
            <div className="field">
              <label htmlFor={quantityId}>{copy.event.quantity}</label>
              <select id={quantityId} name="quantity" defaultValue="2">
                {Array.from({ length: max }, (_, i) => i + 1).map((n) => (
                  <option key={n} value={n}>{n}</option>
                ))}
              </select>
            </div>
          </div>
          <button type="submit" className="button">{copy.waitlist.join}</button>
        </form>
      )}
    </section>
  );
}
