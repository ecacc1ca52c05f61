/**
 * The storefront: search by text, city and a date range. Filters live in the URL so a
 * search can be shared or reloaded, and results page with the server's cursor.
 */
import { useState, type FormEvent } from 'react';
import { useLocation, useSearch } from 'wouter';
import { PageTitle } from '../../../components/PageTitle';
import { ProblemMessage } from '../../../components/ProblemMessage';
import { Spinner } from '../../../components/Spinner';
import { copy } from '../../../lib/copy';
import { paths } from '../../../lib/paths';
import { useAsync } from '../../../lib/useAsync';
import { searchEvents, type EventSummary, type SearchFilters } from '../api/searchEvents';
import { EventCard } from './EventCard';

function filtersFrom(search: string): SearchFilters {
  const params = new URLSearchParams(search);
  return {
    q: params.get('q') ?? '', city: params.get('city') ?? '',
    from: params.get('from') ?? '', to: params.get('to') ?? '',
  };
}

function toQuery(filters: SearchFilters): URLSearchParams {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) if (value.trim()) params.set(key, value);
  return params;
}

function Filters({ initial, onSearch }: {
  initial: SearchFilters; onSearch: (filters: SearchFilters) => void;
}) {
  const [form, setForm] = useState(initial);
  const field = (key: keyof SearchFilters) => ({
    value: form[key],
    onChange: (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value }),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSearch(form);
  };
  return (
    <form role="search" className="search-form" onSubmit={submit}>
      <label className="grow">
        <span>{copy.search.query}</span>
        <input type="search" name="q" placeholder={copy.search.queryPlaceholder} {...field('q')} />
      </label>
      <label>
        <span>{copy.search.city}</span>
        <input type="text" name="city" autoComplete="address-level2" {...field('city')} />
      </label>
      <label>
        <span>{copy.search.from}</span>
        <input type="date" name="from" {...field('from')} />
      </label>
      <label>
        <span>{copy.search.to}</span>
        <input type="date" name="to" {...field('to')} />
      </label>
      <button type="submit" className="button">{copy.search.submit}</button>
    </form>
  );
}

export function SearchPage() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const filters = filtersFrom(search);
  const [more, setMore] = useState<{ items: EventSummary[]; cursor: string | null }>();
  const first = useAsync(async () => {
    setMore(undefined);
    return await searchEvents(filters);
  }, [search]);
  const items = [...(first.data?.data ?? []), ...(more?.items ?? [])];
  const cursor = more === undefined ? first.data?.nextCursor : more.cursor;
  const [moreError, setMoreError] = useState<unknown>();
  const loadMore = async () => {
    if (!cursor) return;
    try {
      const page = await searchEvents(filters, cursor);
      setMore({ items: [...(more?.items ?? []), ...page.data], cursor: page.nextCursor });
    } catch (error) {
      setMoreError(error);
    }
  };
  return (
    <section className="page">
      <PageTitle title={copy.search.title} />
      <Filters key={search} initial={filters}
        onSearch={(next) => navigate(paths.home(toQuery(next)))} />
      {first.loading && first.data === undefined && <Spinner />}
      <ProblemMessage error={first.error ?? moreError} />
      {first.data !== undefined && (
        <>
          <p className="muted" role="status">
            {items.length === 0 ? copy.search.none : copy.search.results(items.length)}
          </p>
          <ul className="event-grid">
            {items.map((event) => <EventCard key={event.eventId} event={event} />)}
          </ul>
          {cursor && (
            <button type="button" className="button secondary" onClick={() => void loadMore()}>
              {copy.search.more}
            </button>
          )}
        </>
      )}
    </section>
  );
}
