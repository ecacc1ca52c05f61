/**
 * Create an event on a venue: its zones are drawn over the venue's sections (each section
 * picks its zone), with prices, the on-sale time, hold time, limits and the waiting room.
 */
import { useEffect, useId, useMemo, useState, type FormEvent, type ReactNode } from 'react';
import { useLocation, useSearch } from 'wouter';
import { limits } from '@server/config/limits';
import { PageTitle } from '../../../components/PageTitle';
import { ProblemMessage } from '../../../components/ProblemMessage';
import { Spinner } from '../../../components/Spinner';
import { copy } from '../../../lib/copy';
import { formatCount } from '../../../lib/format';
import { organizerPaths } from '../../../lib/paths';
import { useAsync } from '../../../lib/useAsync';
import { createEvent, getVenue, listVenues, type Venue } from '../api/organizer';
import {
  eventBody, initialDraft, validateDraft, type DraftProblem, type EventDraft, type SectionRef,
} from '../eventDraft';

function sectionRefs(venue: Venue | undefined): SectionRef[] {
  return (venue?.sections ?? []).map((s) => ({ key: s.key, name: s.name, kind: s.kind }));
}

function Field({ label, problem, id, children }: {
  label: string; problem: string | undefined; id: string; children: ReactNode;
}) {
  return (
    <label>
      <span>{label}</span>
      {children}
      {problem && <span className="field-error" id={id}>{problem}</span>}
    </label>
  );
}

export function EventFormPage() {
  const text = copy.organizer.event;
  const [, navigate] = useLocation();
  const preset = new URLSearchParams(useSearch()).get('venueId') ?? '';
  const venues = useAsync(listVenues, []);
  const [venueId, setVenueId] = useState(preset);
  const venue = useAsync(async () => (venueId ? await getVenue(venueId) : undefined), [venueId]);
  const sections = useMemo(() => sectionRefs(venue.data), [venue.data]);
  const [draft, setDraft] = useState<EventDraft>();
  const [touched, setTouched] = useState(false);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const idBase = useId();

  useEffect(() => {
    if (venueId === '' && venues.data?.[0] !== undefined) setVenueId(venues.data[0].venueId);
  }, [venueId, venues.data]);
  useEffect(() => {
    if (venue.data !== undefined) {
      setDraft(initialDraft(venue.data.venueId, sectionRefs(venue.data), Date.now()));
    }
  }, [venue.data]);

  const problems: DraftProblem[] = draft === undefined ? [] : validateDraft(draft, sections);
  const problemOf = (field: string) =>
    touched ? problems.find((p) => p.field === field)?.message : undefined;
  const described = (field: string) => (problemOf(field) ? {
    'aria-invalid': true, 'aria-describedby': `${idBase}-${field}`,
  } : {});
  const update = (change: Partial<EventDraft>) =>
    setDraft((previous) => (previous === undefined ? previous : { ...previous, ...change }));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setTouched(true);
    if (draft === undefined || problems.length > 0) return;
    setBusy(true);
    setError(undefined);
    try {
      const created = await createEvent(eventBody(draft, sections));
      navigate(organizerPaths.dashboard(created.eventId));
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };

  const numberInput = (field: keyof EventDraft, label: string, min: number, max: number,
    step = 1) => (
    <Field label={label} problem={problemOf(field)} id={`${idBase}-${field}`}>
      <input type="number" min={min} max={max} step={step} inputMode="numeric"
        value={Number.isNaN(draft?.[field]) ? '' : String(draft?.[field] ?? '')}
        onChange={(e) => update({ [field]: e.target.value === '' ? Number.NaN
          : Number(e.target.value) })}
        {...described(field)} />
    </Field>
  );

  return (
    <section className="page organizer">
      <PageTitle title={text.title} />
      <form className="stack" onSubmit={(e) => void submit(e)} noValidate>
        <div className="card stack">
          <label>
            <span>{text.venue}</span>
            <select value={venueId} onChange={(e) => setVenueId(e.target.value)}>
              {venueId !== '' && !venues.data?.some((v) => v.venueId === venueId) && (
                <option value={venueId}>{venue.data?.name ?? venueId}</option>
              )}
              {venues.data?.map((v) => (
                <option key={v.venueId} value={v.venueId}>
                  {text.venueOption(v.name, v.city, formatCount(v.capacity))}
                </option>
              ))}
            </select>
          </label>
          {venues.data?.length === 0 && <p className="muted">{text.noVenues}</p>}
          <ProblemMessage error={venues.error ?? venue.error} />
        </div>
        {venue.loading && venueId !== '' && <Spinner />}
        {draft !== undefined && (
          <>
            <div className="card stack">
              <h2>{text.details}</h2>
              <Field label={text.fields.title} problem={problemOf('title')}
                id={`${idBase}-title`}>
                <input value={draft.title} maxLength={limits.nameLength} required
                  onChange={(e) => update({ title: e.target.value })} {...described('title')} />
              </Field>
              <label>
                <span>{text.fields.performers}</span>
                <input value={draft.performers}
                  onChange={(e) => update({ performers: e.target.value })} />
              </label>
              <label>
                <span>{text.fields.description}</span>
                <textarea rows={3} value={draft.description}
                  maxLength={limits.descriptionLength}
                  onChange={(e) => update({ description: e.target.value })} />
              </label>
              <div className="field-grid">
                <Field label={text.fields.startsAt} problem={problemOf('startsAt')}
                  id={`${idBase}-startsAt`}>
                  <input type="datetime-local" value={draft.startsAt} required
                    onChange={(e) => update({ startsAt: e.target.value })}
                    {...described('startsAt')} />
                </Field>
                <Field label={text.fields.onSaleAt} problem={problemOf('onSaleAt')}
                  id={`${idBase}-onSaleAt`}>
                  <input type="datetime-local" value={draft.onSaleAt} required
                    onChange={(e) => update({ onSaleAt: e.target.value })}
                    {...described('onSaleAt')} />
                </Field>
              </div>
            </div>
            <ZonesEditor draft={draft} sections={sections} update={update}
              problemOf={problemOf} idBase={idBase} />
            <div className="card stack">
              <h2>{text.selling}</h2>
              <div className="field-grid">
                {numberInput('holdMinutes', text.fields.holdMinutes, 1, 120)}
                {numberInput('extensionMinutes', text.fields.extensionMinutes, 0, 120)}
                {numberInput('maxTicketsPerCustomer', text.fields.maxTicketsPerCustomer, 1,
                  limits.maxTicketsPerCustomerMax)}
              </div>
              <label className="inline">
                <input type="checkbox" checked={draft.queueEnabled}
                  onChange={(e) => update({ queueEnabled: e.target.checked })} />
                <span>{text.fields.queueEnabled}</span>
              </label>
              {draft.queueEnabled && (
                <div className="field-grid">
                  {numberInput('admitPerMinute', text.fields.admitPerMinute, 1, 1_000_000)}
                  {numberInput('maxActiveShoppers', text.fields.maxActiveShoppers, 1, 1_000_000)}
                  {numberInput('passMinutes', text.fields.passMinutes, 1, 120)}
                  <label className="inline">
                    <input type="checkbox" checked={draft.proofOfWork}
                      onChange={(e) => update({ proofOfWork: e.target.checked })} />
                    <span>{text.fields.proofOfWork}</span>
                  </label>
                </div>
              )}
            </div>
            {touched && problems.length > 0 && (
              <div className="notice error" role="alert">{text.fixProblems(problems.length)}</div>
            )}
            <ProblemMessage error={error} />
            <div>
              <button type="submit" disabled={busy}>{busy ? text.creating : text.create}</button>
            </div>
          </>
        )}
      </form>
    </section>
  );
}

function ZonesEditor({ draft, sections, update, problemOf, idBase }: {
  draft: EventDraft; sections: SectionRef[]; update: (change: Partial<EventDraft>) => void;
  problemOf: (field: string) => string | undefined; idBase: string;
}) {
  const text = copy.organizer.event;
  const setZone = (id: number, change: Partial<EventDraft['zones'][number]>) =>
    update({ zones: draft.zones.map((z) => (z.id === id ? { ...z, ...change } : z)) });
  const addZone = () => {
    const id = Math.max(0, ...draft.zones.map((z) => z.id)) + 1;
    update({ zones: [...draft.zones, { id, name: text.newZone(id), price: '50.00',
      currency: draft.zones[0]?.currency ?? 'EUR' }] });
  };
  const removeZone = (id: number) => update({ zones: draft.zones.filter((z) => z.id !== id) });
  return (
    <div className="card stack">
      <h2>{text.zones}</h2>
      <p className="muted small">{text.zonesHelp}</p>
      <ul className="zone-editor">
        {draft.zones.map((zone, index) => {
          const field = (part: string) => `zones.${zone.id}.${part}`;
          return (
            <li key={zone.id} className="zone-row">
              {(['name', 'price', 'currency'] as const).map((part) => (
                <label key={part}>
                  <span>{text.zoneFields[part](index + 1)}</span>
                  <input value={zone[part]}
                    inputMode={part === 'price' ? 'decimal' : undefined}
                    maxLength={part === 'currency' ? 3 : limits.nameLength}
                    onChange={(e) => setZone(zone.id, { [part]: part === 'currency'
                      ? e.target.value.toUpperCase() : e.target.value })}
                    aria-invalid={problemOf(field(part)) !== undefined}
                    aria-describedby={problemOf(field(part)) ? `${idBase}-${field(part)}`
                      : undefined} />
                  {problemOf(field(part)) && (
                    <span className="field-error" id={`${idBase}-${field(part)}`}>
                      {problemOf(field(part))}
                    </span>
                  )}
                </label>
              ))}
              <button type="button" className="secondary small"
                onClick={() => removeZone(zone.id)} disabled={draft.zones.length === 1}>
                {text.removeZone(zone.name)}
              </button>
            </li>
          );
        })}
      </ul>
      <div><button type="button" className="secondary small" onClick={addZone}>
        {text.addZone}</button></div>
      <table className="section-zones">
        <caption className="visually-hidden">{text.sectionZonesCaption}</caption>
        <thead><tr><th scope="col">{text.section}</th><th scope="col">{text.zone}</th></tr></thead>
        <tbody>
          {sections.map((section) => (
            <tr key={section.key}>
              <th scope="row">{section.name}</th>
              <td>
                <select aria-label={text.zoneFor(section.name)}
                  value={String(draft.sectionZone[section.key] ?? '')}
                  onChange={(e) => update({ sectionZone: { ...draft.sectionZone,
                    [section.key]: Number(e.target.value) } })}>
                  {!draft.zones.some((z) => z.id === draft.sectionZone[section.key]) && (
                    <option value="">{text.pickZone}</option>
                  )}
                  {draft.zones.map((z) => <option key={z.id} value={z.id}>{z.name}</option>)}
                </select>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
