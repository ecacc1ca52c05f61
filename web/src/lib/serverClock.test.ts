import { afterEach, describe, expect, it } from 'vitest';
import { noteServerDate, serverNowMs, serverSkewMs } from './serverClock';

const at = (iso: string) => Date.parse(iso);

describe('the server clock as the page sees it', () => {
  afterEach(() => {
    // Back to "no skew": a reply whose Date equals the device's clock.
    noteServerDate(new Date(Date.now()).toUTCString(), Date.now(), Date.now());
  });

  it('takes the midpoint of the round trip as when the server wrote its Date', () => {
    // Device sent at 10:00:00.000 and got the reply at 10:00:02.000; the server said 10:05:01.
    noteServerDate('Wed, 25 Nov 2026 10:05:01 GMT', at('2026-11-25T10:00:00Z'),
      at('2026-11-25T10:00:02Z'));
    expect(serverSkewMs()).toBe(5 * 60_000);
    const device = Date.now();
    expect(serverNowMs() - device).toBeGreaterThanOrEqual(5 * 60_000 - 5);
  });

  it('ignores offsets within the one-second resolution of the header', () => {
    noteServerDate('Wed, 25 Nov 2026 10:00:02 GMT', at('2026-11-25T10:00:00Z'),
      at('2026-11-25T10:00:01Z'));
    expect(serverSkewMs()).toBe(0);
  });

  it('corrects a device that runs ahead as well as one that runs behind', () => {
    noteServerDate('Wed, 25 Nov 2026 09:58:00 GMT', at('2026-11-25T10:00:00Z'),
      at('2026-11-25T10:00:00Z'));
    expect(serverSkewMs()).toBe(-2 * 60_000);
  });

  it('keeps the last good offset when a reply has no usable Date', () => {
    noteServerDate('Wed, 25 Nov 2026 10:01:00 GMT', at('2026-11-25T10:00:00Z'),
      at('2026-11-25T10:00:00Z'));
    noteServerDate(null, at('2026-11-25T10:00:00Z'), at('2026-11-25T10:00:00Z'));
    noteServerDate('not a date', at('2026-11-25T10:00:00Z'), at('2026-11-25T10:00:00Z'));
    expect(serverSkewMs()).toBe(60_000);
  });
});
