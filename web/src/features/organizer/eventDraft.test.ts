import { describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { EventInput } from '@server/catalog/schemas';
import {
  eventBody, initialDraft, parsePriceCents, validateDraft, zoneKeys, type SectionRef,
} from './eventDraft';

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const ajv = new Ajv({ strict: false });
addFormats(ajv);
const acceptsEvent = ajv.compile(EventInput);

const sections: SectionRef[] = [
  { key: 'GA1', name: 'Standing', kind: 'standing' },
  { key: '101', name: 'Section 101', kind: 'seated' },
  { key: '102', name: 'Section 102', kind: 'seated' },
];
const venueId = '5f0c6a54-8f43-4d2a-9d36-0a7c1f3e9b10';

describe('event draft', () => {
  it('starts with a seated and a standing zone covering every section', () => {
    const draft = { ...initialDraft(venueId, sections, Date.UTC(2030, 0, 1)), title: 'Gig' };
    expect(validateDraft(draft, sections)).toEqual([]);
    const body = eventBody(draft, sections);
    expect(acceptsEvent(body), JSON.stringify(acceptsEvent.errors)).toBe(true);
    expect(body.zones).toEqual([
      { key: 'seated', name: 'Seated', priceCents: 6_000, currency: 'EUR',
        sections: ['101', '102'] },
      { key: 'standing', name: 'Standing', priceCents: 4_000, currency: 'EUR',
        sections: ['GA1'] },
    ]);
    expect(body.holdSeconds).toBe(600);
    expect(body.queue.enabled).toBe(false);
  });

  it('reads prices in currency units, refusing anything ambiguous', () => {
    expect(['45', '45.5', '45,50', ' 0.05 ', '45.555', '-1', '1e3', '']
      .map(parsePriceCents)).toEqual([4_500, 4_550, 4_550, 5, undefined, undefined,
      undefined, undefined]);
  });

  it('makes unique zone keys from names', () => {
    const keys = zoneKeys([{ id: 1, name: 'Front Row!', price: '1', currency: 'EUR' },
      { id: 2, name: 'front row', price: '1', currency: 'EUR' },
      { id: 3, name: 'Ça va', price: '1', currency: 'EUR' }, { id: 4, name: '—', price: '1',
        currency: 'EUR' }]);
    expect([...keys.values()]).toEqual(['front_row', 'front_row_2', 'ca_va', 'zone']);
  });

  it('names every field the API would refuse', () => {
    const base = { ...initialDraft(venueId, sections, Date.UTC(2030, 0, 1)), title: 'Gig' };
    const fields = validateDraft({
      ...base, title: ' ', onSaleAt: '2031-01-01T10:00', startsAt: '2030-06-01T10:00',
      zones: [{ id: 1, name: 'Seated', price: 'free', currency: 'eur' }],
      maxTicketsPerCustomer: 51, queueEnabled: true, passMinutes: 0.1,
    }, sections).map((p) => p.field);
    expect(fields).toEqual(['title', 'onSaleAt', 'zones.1.price', 'zones.1.currency',
      'sections.GA1', 'maxTicketsPerCustomer', 'passMinutes']);
  });
});
