/**
 * Money, dates and counts through Intl in the viewer's locale. Formatters are cached:
 * building one is far slower than using it, and lists format thousands of values.
 */
const locale = typeof navigator === 'undefined' ? 'en' : navigator.language;

const moneyFormats = new Map<string, Intl.NumberFormat>();

/** `12345, 'EUR'` → "€123.45" (or "123,45 €" in fr-FR). */
export function formatMoney(cents: number, currency: string): string {
  let format = moneyFormats.get(currency);
  if (format === undefined) {
    format = new Intl.NumberFormat(locale, { style: 'currency', currency });
    moneyFormats.set(currency, format);
  }
  // Prices are stored in hundredths of the currency unit, whatever the currency.
  return format.format(cents / 100);
}

const dateTime = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(locale, {
  weekday: 'short', day: 'numeric', month: 'short', year: 'numeric',
});
const timeOnly = new Intl.DateTimeFormat(locale, { timeStyle: 'short' });
const numbers = new Intl.NumberFormat(locale);

/** A date and time, e.g. "Mar 14, 2027, 8:00 PM". */
export function formatDateTime(iso: string | Date): string {
  return dateTime.format(typeof iso === 'string' ? new Date(iso) : iso);
}

/** A day, e.g. "Sun, Mar 14, 2027". */
export function formatDate(iso: string | Date): string {
  return dateOnly.format(typeof iso === 'string' ? new Date(iso) : iso);
}

/** A time of day. */
export function formatTime(iso: string | Date): string {
  return timeOnly.format(typeof iso === 'string' ? new Date(iso) : iso);
}

const clockTime = new Intl.DateTimeFormat(locale, {
  hour: '2-digit', minute: '2-digit', second: '2-digit',
});

/** A time of day to the second, for chart axes, e.g. "20:15:30". */
export function formatClockTime(at: number | Date): string {
  return clockTime.format(at);
}

/** A count with grouping, e.g. "12,345". */
export function formatCount(value: number): string {
  return numbers.format(value);
}

/** Seconds as m:ss (or h:mm:ss), for countdowns. */
export function formatClock(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const seconds = String(s % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}`
    : `${minutes}:${seconds}`;
}

const relative = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });

/** A rough duration from now, e.g. "in 3 minutes". */
export function formatEta(seconds: number): string {
  if (seconds < 60) return relative.format(Math.max(1, Math.round(seconds)), 'second');
  if (seconds < 3600) return relative.format(Math.round(seconds / 60), 'minute');
  return relative.format(Math.round(seconds / 3600), 'hour');
}
