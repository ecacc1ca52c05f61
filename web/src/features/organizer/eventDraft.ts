/**
 * The event form's model: zones drawn over the venue's sections (each section picks its
 * zone, so every section is in exactly one), prices typed in currency units, local times.
 * Pure, so the body sent is tested without a browser.
 */
import { limits } from '@server/config/limits';

/** One price zone as the form edits it. */
export interface ZoneDraft {
  id: number;
  name: string;
  /** In currency units as typed, e.g. "45.50". */
  price: string;
  currency: string;
}

/** The whole form. */
export interface EventDraft {
  venueId: string;
  title: string;
  description: string;
  performers: string;
  /** `datetime-local` values (the organizer's local time). */
  startsAt: string;
  onSaleAt: string;
  zones: ZoneDraft[];
  /** Section key → zone id. */
  sectionZone: Record<string, number>;
  holdMinutes: number;
  extensionMinutes: number;
  maxTicketsPerCustomer: number;
  queueEnabled: boolean;
  admitPerMinute: number;
  maxActiveShoppers: number;
  passMinutes: number;
  proofOfWork: boolean;
}

/** What the form needs of a venue section. */
export interface SectionRef {
  key: string;
  name: string;
  kind: 'seated' | 'standing';
}

/** A problem naming its field (zone fields are `zones.<id>.price` and so on). */
export interface DraftProblem {
  field: string;
  message: string;
}

/** The event body the API takes (POST /events). */
export interface EventBodyDraft {
  venueId: string;
  title: string;
  description: string;
  performers: string[];
  startsAt: string;
  onSaleAt: string;
  zones: { key: string; name: string; priceCents: number; currency: string;
    sections: string[] }[];
  holdSeconds: number;
  holdExtensionSeconds: number;
  maxTicketsPerCustomer: number;
  queue: { enabled: boolean; admitPerMinute: number; maxActiveShoppers: number;
    passSeconds: number; proofOfWork: boolean };
}

/** A `datetime-local` value for a time, in the browser's zone. */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T`
    + `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A first draft for a venue: one zone for its seats and one for its standing areas. */
export function initialDraft(venueId: string, sections: readonly SectionRef[], nowMs: number):
  EventDraft {
  const seated = sections.some((s) => s.kind === 'seated');
  const standing = sections.some((s) => s.kind === 'standing');
  const zones: ZoneDraft[] = [
    ...(seated ? [{ id: 1, name: 'Seated', price: '60.00', currency: 'EUR' }] : []),
    ...(standing ? [{ id: 2, name: 'Standing', price: '40.00', currency: 'EUR' }] : []),
  ];
  return {
    venueId, title: '', description: '', performers: '',
    startsAt: toLocalInput(nowMs + 30 * 86_400_000), onSaleAt: toLocalInput(nowMs),
    zones,
    sectionZone: Object.fromEntries(sections.map((s) => [s.key, s.kind === 'seated' ? 1 : 2])),
    holdMinutes: 10, extensionMinutes: 5, maxTicketsPerCustomer: 8,
    queueEnabled: false, admitPerMinute: 1_000, maxActiveShoppers: 1_000, passMinutes: 15,
    proofOfWork: false,
  };
}

/** "45.5" → 4550; undefined unless a non-negative amount with at most two decimals. */
export function parsePriceCents(price: string): number | undefined {
  const match = /^\s*(\d{1,9})(?:[.,](\d{1,2}))?\s*$/.exec(price);
  if (match === null) return undefined;
  const cents = Number(match[1]) * 100 + Number((match[2] ?? '').padEnd(2, '0'));
  return cents <= limits.priceCentsMax ? cents : undefined;
}

/** A zone key from its name: letters and digits, unique within the event. */
export function zoneKeys(zones: readonly ZoneDraft[]): Map<number, string> {
  const used = new Set<string>();
  const keys = new Map<number, string>();
  for (const zone of zones) {
    const base = zone.name.normalize('NFKD').replace(/[\u0300-\u036f]/g, '')
      .replace(/[^A-Za-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '').toLowerCase().slice(0, 30) || 'zone';
    let key = base;
    for (let n = 2; used.has(key); n += 1) key = `${base}_${n}`;
    used.add(key);
    keys.set(zone.id, key);
  }
  return keys;
}

function wholeIn(problems: DraftProblem[], field: string, value: number, min: number,
  max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push({ field, message: `between ${min} and ${max}` });
  }
}

/** Everything the API would refuse, found before sending. */
export function validateDraft(draft: EventDraft, sections: readonly SectionRef[]):
  DraftProblem[] {
  const problems: DraftProblem[] = [];
  if (draft.venueId === '') problems.push({ field: 'venueId', message: 'required' });
  if (draft.title.trim() === '') problems.push({ field: 'title', message: 'required' });
  const starts = Date.parse(draft.startsAt);
  const onSale = Date.parse(draft.onSaleAt);
  if (Number.isNaN(starts)) problems.push({ field: 'startsAt', message: 'required' });
  if (Number.isNaN(onSale)) problems.push({ field: 'onSaleAt', message: 'required' });
  if (!Number.isNaN(starts) && !Number.isNaN(onSale) && onSale > starts) {
    problems.push({ field: 'onSaleAt', message: 'must not be after the start' });
  }
  if (draft.zones.length === 0) problems.push({ field: 'zones', message: 'add a zone' });
  for (const zone of draft.zones) {
    if (zone.name.trim() === '') {
      problems.push({ field: `zones.${zone.id}.name`, message: 'required' });
    }
    if (parsePriceCents(zone.price) === undefined) {
      problems.push({ field: `zones.${zone.id}.price`, message: 'a price such as 45.00' });
    }
    if (!/^[A-Z]{3}$/.test(zone.currency)) {
      problems.push({ field: `zones.${zone.id}.currency`, message: 'a code such as EUR' });
    }
    if (!sections.some((s) => draft.sectionZone[s.key] === zone.id)) {
      problems.push({ field: `zones.${zone.id}.name`, message: 'has no section' });
    }
  }
  for (const section of sections) {
    if (!draft.zones.some((z) => z.id === draft.sectionZone[section.key])) {
      problems.push({ field: `sections.${section.key}`, message: 'pick a zone' });
    }
  }
  wholeIn(problems, 'holdMinutes', draft.holdMinutes * 60, limits.holdSecondsMin,
    limits.holdSecondsMax);
  wholeIn(problems, 'extensionMinutes', draft.extensionMinutes * 60, 0,
    limits.holdExtensionSecondsMax);
  wholeIn(problems, 'maxTicketsPerCustomer', draft.maxTicketsPerCustomer, 1,
    limits.maxTicketsPerCustomerMax);
  if (draft.queueEnabled) {
    wholeIn(problems, 'admitPerMinute', draft.admitPerMinute, 1, 1_000_000);
    wholeIn(problems, 'maxActiveShoppers', draft.maxActiveShoppers, 1, 1_000_000);
    wholeIn(problems, 'passMinutes', draft.passMinutes * 60, 30, 7_200);
  }
  return problems;
}

/** The body for POST /events (call after validateDraft found nothing). */
export function eventBody(draft: EventDraft, sections: readonly SectionRef[]): EventBodyDraft {
  const keys = zoneKeys(draft.zones);
  return {
    venueId: draft.venueId,
    title: draft.title.trim(),
    description: draft.description.trim(),
    performers: draft.performers.split(',').map((p) => p.trim()).filter((p) => p !== '')
      .slice(0, limits.performersPerEvent),
    startsAt: new Date(draft.startsAt).toISOString(),
    onSaleAt: new Date(draft.onSaleAt).toISOString(),
    zones: draft.zones.map((zone) => ({
      key: keys.get(zone.id) ?? 'zone',
      name: zone.name.trim(),
      priceCents: parsePriceCents(zone.price) ?? 0,
      currency: zone.currency,
      sections: sections.filter((s) => draft.sectionZone[s.key] === zone.id).map((s) => s.key),
    })),
    holdSeconds: Math.round(draft.holdMinutes * 60),
    holdExtensionSeconds: Math.round(draft.extensionMinutes * 60),
    maxTicketsPerCustomer: draft.maxTicketsPerCustomer,
    queue: {
      enabled: draft.queueEnabled, admitPerMinute: draft.admitPerMinute,
      maxActiveShoppers: draft.maxActiveShoppers, passSeconds: Math.round(draft.passMinutes * 60),
      proofOfWork: draft.proofOfWork,
    },
  };
}
