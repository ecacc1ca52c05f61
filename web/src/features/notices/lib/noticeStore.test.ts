import { describe, expect, it } from 'vitest';
import { addNotice, dismissNotice, maxNotices, parseNotice, type Notice } from './noticeStore';

const notice = (id: number, kind: Notice['kind'] = 'order.confirmed'): Notice => ({
  id, kind, eventId: 'e', title: 't', body: 'b', at: '2026-01-01T00:00:00Z',
});

describe('notice store', () => {
  it('keeps the newest notices first, drops repeats and bounds the list', () => {
    let state = { notices: [] as Notice[], offers: 0 };
    for (let id = 1; id <= maxNotices + 2; id += 1) state = addNotice(state, notice(id));
    expect(state.notices.map((n) => n.id)).toEqual([7, 6, 5, 4, 3]);
    expect(addNotice(state, notice(6))).toBe(state);
    expect(dismissNotice(state, 6).notices.map((n) => n.id)).toEqual([7, 5, 4, 3]);
  });

  it('drops an event\'s queue notices once an order for it settles', () => {
    const admitted = { ...notice(1, 'queue.admitted'), eventId: 'e' };
    const elsewhere = { ...notice(2, 'queue.admitted'), eventId: 'other' };
    let state = addNotice(addNotice({ notices: [], offers: 0 }, admitted), elsewhere);
    state = addNotice(state, notice(3, 'order.confirmed'));
    expect(state.notices.map((n) => n.id)).toEqual([3, 2]);
  });

  it('counts offers so the banner re-reads them', () => {
    const state = addNotice({ notices: [], offers: 0 }, notice(1, 'waitlist.offered'));
    expect(state.offers).toBe(1);
    expect(addNotice(state, notice(2)).offers).toBe(1);
  });

  it('parses stream data and refuses what is not a notice', () => {
    expect(parseNotice(JSON.stringify(notice(3)))?.id).toBe(3);
    expect(parseNotice('{"id":"x"}')).toBeUndefined();
    expect(parseNotice('not json')).toBeUndefined();
  });
});
