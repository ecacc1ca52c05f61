/**
 * Create a venue from a few numbers with a live preview: the generator turns the form into
 * the venue body, the canvas draws exactly that body, and submitting sends it unchanged.
 */
import { useId, useMemo, useState, type FormEvent } from 'react';
import { Link } from 'wouter';
import { limits } from '@server/config/limits';
import { PageTitle } from '../../../components/PageTitle';
import { ProblemMessage } from '../../../components/ProblemMessage';
import { copy } from '../../../lib/copy';
import { formatCount } from '../../../lib/format';
import { organizerPaths } from '../../../lib/paths';
import { createVenue, type Venue } from '../api/organizer';
import {
  defaultGeneratorInput, generateVenue, validateGeneratorInput, venueCapacity,
  type GeneratorInput,
} from '../venueGenerator';
import { VenuePreview } from './VenuePreview';

type NumberField = 'sections' | 'rowsPerSection' | 'seatsPerRow' | 'standingAreas'
  | 'standingCapacity';

const numberFields: { field: NumberField; max: number; min: number }[] = [
  { field: 'sections', min: 0, max: limits.sectionsPerVenue },
  { field: 'rowsPerSection', min: 1, max: limits.rowsPerSection },
  { field: 'seatsPerRow', min: 1, max: limits.seatsPerRow },
  { field: 'standingAreas', min: 0, max: limits.sectionsPerVenue },
  { field: 'standingCapacity', min: 1, max: limits.standingCapacity },
];

export function VenueGeneratorPage() {
  const text = copy.organizer.venue;
  const [input, setInput] = useState<GeneratorInput>(defaultGeneratorInput);
  const [touched, setTouched] = useState(false);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<Venue>();
  const idBase = useId();
  const venue = useMemo(() => generateVenue(input), [input]);
  const problems = useMemo(() => validateGeneratorInput(input), [input]);
  const capacity = venueCapacity(venue);
  const seated = venue.sections.filter((s) => s.kind === 'seated').length;
  const summary = text.summary(seated, venue.sections.length - seated, formatCount(capacity));
  const problemOf = (field: keyof GeneratorInput) =>
    touched ? problems.find((p) => p.field === field)?.message : undefined;
  const set = <K extends keyof GeneratorInput>(field: K, value: GeneratorInput[K]) =>
    setInput((previous) => ({ ...previous, [field]: value }));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setTouched(true);
    if (problems.length > 0) return;
    setBusy(true);
    setError(undefined);
    try {
      setCreated(await createVenue(venue));
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  const textField = (field: 'name' | 'city') => {
    const problem = problemOf(field);
    return (
      <label>
        <span>{text.fields[field]}</span>
        <input value={input[field]} onChange={(e) => set(field, e.target.value)} required
          maxLength={field === 'name' ? limits.nameLength : 100}
          aria-invalid={problem !== undefined}
          aria-describedby={problem ? `${idBase}-${field}` : undefined} />
        {problem && <span className="field-error" id={`${idBase}-${field}`}>{problem}</span>}
      </label>
    );
  };

  return (
    <section className="page organizer">
      <PageTitle title={text.title} />
      <p className="muted">{text.intro}</p>
      <div className="generator">
        <form className="stack card" onSubmit={(e) => void submit(e)} noValidate>
          {textField('name')}
          {textField('city')}
          <fieldset className="choice">
            <legend>{text.fields.shape}</legend>
            {(['curved', 'straight'] as const).map((shape) => (
              <label key={shape} className="inline">
                <input type="radio" name="shape" checked={input.shape === shape}
                  onChange={() => set('shape', shape)} />
                <span>{text.shapes[shape]}</span>
              </label>
            ))}
          </fieldset>
          <div className="field-grid">
            {numberFields.map(({ field, min, max }) => {
              const problem = problemOf(field);
              return (
                <label key={field}>
                  <span>{text.fields[field]}</span>
                  <input type="number" inputMode="numeric" min={min} max={max} step={1}
                    value={Number.isNaN(input[field]) ? '' : input[field]}
                    onChange={(e) => set(field, e.target.value === '' ? Number.NaN
                      : Number(e.target.value))}
                    aria-invalid={problem !== undefined}
                    aria-describedby={problem ? `${idBase}-${field}` : undefined} />
                  {problem && (
                    <span className="field-error" id={`${idBase}-${field}`}>{problem}</span>
                  )}
                </label>
              );
            })}
            <label>
              <span>{text.fields.rowLabels}</span>
              <select value={input.rowLabels}
                onChange={(e) => set('rowLabels', e.target.value as GeneratorInput['rowLabels'])}>
                <option value="numbers">{text.rowLabels.numbers}</option>
                <option value="letters">{text.rowLabels.letters}</option>
              </select>
            </label>
          </div>
          {input.shape === 'curved' && (
            <label className="inline">
              <input type="checkbox" checked={input.widenRows}
                onChange={(e) => set('widenRows', e.target.checked)} />
              <span>{text.fields.widenRows}</span>
            </label>
          )}
          <p className="capacity" aria-live="polite">{text.capacity(formatCount(capacity))}</p>
          <ProblemMessage error={error} />
          {created !== undefined && (
            <div className="notice ok" role="status">
              <p>{text.created(created.name)}</p>
              <Link href={organizerPaths.newEvent(created.venueId)}>{text.next}</Link>
            </div>
          )}
          <button type="submit" disabled={busy}>{busy ? text.creating : text.create}</button>
        </form>
        <VenuePreview sections={venue.sections} summary={summary} />
      </div>
    </section>
  );
}
