/**
 * The simulation report: a text summary for the terminal and a self-contained HTML page
 * (inline SVG charts, no scripts or external assets) to share with the organizer.
 */
import type { AuditReport } from './audit.js';
import { cpuLines, type CpuSplit } from './cpuSplit.js';
import type { EndOfSale, EtaBucket, Refusals } from './endsale.js';
import type { LatencySecond, StepSummary, TimelinePoint } from './metrics.js';
import type { SimOptions } from './options.js';
import { pacingLines } from './pacing.js';

export interface Fairness {
  /** Kendall tau between arrival order and line number, for joiners after on-sale. */
  joinVsNumberTau: number | null;
  postOnSaleJoiners: number;
  /** Kendall tau between arrival order and drawn number in the pre-queue (≈ 0 is fair). */
  preQueueTau: number | null;
  preQueueJoiners: number;
}

export interface EtaSample {
  predictedSeconds: number;
  actualSeconds: number;
}

export interface SimReport {
  options: SimOptions;
  target: string;
  eventId: string;
  capacity: number;
  startedAt: string;
  durationMs: number;
  stoppedBy: string;
  sold: number;
  held: number;
  soldOutAtMs: number | null;
  onSaleAtMs: number;
  counters: Record<string, number>;
  steps: StepSummary[];
  /** Replies by the second their request was sent (run time, seconds). */
  latencyOverTime?: LatencySecond[];
  timeline: TimelinePoint[];
  fairness: Fairness;
  eta: {
    samples: number; medianErrorSeconds: number | null;
    /** Median per fan of |predicted − actual| / actual. */
    medianRelativeError: number | null;
    /** Fans whose first view promised no time (in carts, or too little left ahead). */
    shownNoTime: number;
    /**
     * Fans promised a time who were never admitted (told sold out, left, or still waiting
     * at the end): a promise that did not come true, outside the error figures.
     */
    shownTimeNeverAdmitted?: number;
    /** The median actual wait of the fans measured, for scale. */
    medianActualSeconds?: number | null;
    /** Of them, fans served within one tick (1 s): a whole-second ETA cannot resolve those. */
    withinOneTick?: number;
    overTime: EtaBucket[];
    points: EtaSample[];
  };
  endOfSale: EndOfSale;
  refusals: Refusals;
  audit: AuditReport | null;
  /**
   * Where the box's CPU went per role and window, when the harness read it (the bench's
   * rehearsal; sim/cpuSplit.ts).
   */
  cpuSplit?: CpuSplit;
  /** fans.csv rows (not in report.json): one per fan, what they were told and when served. */
  fans?: string[];
  /** slots.csv rows (not in report.json): one per shopper slot, its life and why it ended. */
  slots?: string[];
  auditSkipped?: string;
}

/** The three seconds whose requests came back slowest (a stall shows here). */
function slowestSeconds(seconds: readonly LatencySecond[]): string[] {
  const worst = [...seconds].sort((a, b) => b.maxMs - a.maxMs).slice(0, 3)
    .sort((a, b) => a.second - b.second);
  if (worst.length === 0) return [];
  return [`slowest     ${worst.map((s) => `sent at ${s.second} s: ${s.count} requests, ` +
    `p50 ${f1(s.p50Ms)} ms, max ${f1(s.maxMs)} ms (${s.slowestStep})`).join('; ')}`];
}

const f1 = (value: number | null): string =>
  value === null || !Number.isFinite(value) ? '–' : value.toFixed(1);
const f3 = (value: number | null): string =>
  value === null || !Number.isFinite(value) ? '–' : value.toFixed(3);
const pct = (value: number | null): string =>
  value === null || !Number.isFinite(value) ? '–' : `${(value * 100).toFixed(1)} %`;

/** The end of the sale in a few lines: how the last fans were resolved, and how fast. */
export function endOfSaleLines(report: Pick<SimReport, 'endOfSale' | 'refusals'>): string[] {
  const e = report.endOfSale;
  const r = report.refusals;
  const freed = e.freed === null ? 'not reported by the server'
    : `order done ${e.freed.order}, given back ${e.freed.left}, idle ${e.freed.idle}, ` +
      `lapsed (grace or expiry) ${e.freed.lapsed}`;
  // While fans are unresolved the last one is still waiting: no "s after the last sale".
  const lastFan = e.unresolved > 0
    ? `latest fan resolved ${f1(e.lastResolvedSeconds)} s; ${e.unresolved} still unresolved ` +
      'when the run stopped'
    : `last fan resolved ${f1(e.lastResolvedSeconds)} s: ` +
      `${f1(e.lastSaleToLastResolvedSeconds)} s after the last sale; 0 unresolved`;
  return [
    `end         last sale ${f1(e.lastSaleSeconds)} s after on-sale, ${lastFan}`,
    `            told sold out ${e.toldSoldOut}, moved to the waitlist ${e.movedToWaitlist}, ` +
      `gave the pass back or left ${e.leftLine}`,
    `slots freed ${freed}`,
    `refused     ${r.insufficientInventory} not enough tickets + ${r.seatsTaken} seats taken ` +
      `for ${r.holdsOk} holds: ${f3(r.perSuccessfulHold)} per successful hold`,
  ];
}

/** Non-success answers by kind (join statuses, hold codes, checkout codes), for the summary. */
function refusals(counters: Record<string, number>): string {
  const parts = Object.entries(counters)
    .filter(([name]) => /^(join_status_|hold_|checkout_|order_|queue_state_)/.test(name) &&
      name !== 'holds_ok' && name !== 'hold_conflicts')
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, n]) => `${name} ${n}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

/** The terminal summary. */
export function renderText(report: SimReport): string {
  const c = (name: string): number => report.counters[name] ?? 0;
  const sellOut = report.soldOutAtMs === null
    ? 'not sold out'
    : `${f1((report.soldOutAtMs - report.onSaleAtMs) / 1000)} s after on-sale`;
  const lines = [
    `Stampede on-sale simulation — ${report.startedAt}`,
    `target ${report.target}, event ${report.eventId}, seed ${report.options.seed}`,
    '',
    `crowd       ${report.options.customers} customers, ${c('joined')} joined the queue, ` +
      `${c('admitted')} admitted`,
    `tickets     ${report.sold} of ${report.capacity} sold (${report.held} still held), ${sellOut}`,
    `outcomes    bought ${c('outcome_bought')}, declined ${c('outcome_declined')}, ` +
      `abandoned ${c('outcome_abandoned')}, gave up ${c('outcome_gave_up')}, ` +
      `sold out ${c('outcome_sold_out')}, errors ${c('outcome_error')}, ` +
      `timed out ${c('outcome_timeout')}`,
    `holds       ${c('holds_ok')} ok, ${c('hold_conflicts')} conflicts, ` +
      `${c('cancelled')} orders cancelled later`,
    `busy        ${c('hold_retried_after')} holds, ${c('join_retried_after')} joins and ` +
      `${c('poll_retried_after')} polls retried after Retry-After (429/503: not failures)`,
    `run         ${f1(report.durationMs / 1000)} s, stopped by ${report.stoppedBy}`,
    `refusals    ${refusals(report.counters)}`,
    '',
    'step                        count   err  busy    p50 ms    p95 ms    p99 ms    max ms',
    ...report.steps.map((s) =>
      `${s.step.padEnd(24)} ${String(s.count).padStart(8)} ${String(s.errors).padStart(5)} ` +
      `${String(s.busy).padStart(5)} ` +
      `${f1(s.p50Ms).padStart(9)} ${f1(s.p95Ms).padStart(9)} ${f1(s.p99Ms).padStart(9)} ` +
      `${f1(s.maxMs).padStart(9)}`),
    ...slowestSeconds(report.latencyOverTime ?? []),
    '',
    ...pacingLines(report.timeline, report.onSaleAtMs),
    '',
    ...(report.cpuSplit === undefined ? [] : [...cpuLines(report.cpuSplit), '']),
    `fairness    join order vs line number (after on-sale): tau ${f3(report.fairness.joinVsNumberTau)}` +
      ` over ${report.fairness.postOnSaleJoiners} fans`,
    `            pre-queue arrival vs drawn number: tau ${f3(report.fairness.preQueueTau)}` +
      ` over ${report.fairness.preQueueJoiners} fans (near 0: arriving early gave no edge)`,
    `ETA         median |predicted − actual| ${f1(report.eta.medianErrorSeconds)} s, ` +
      `${pct(report.eta.medianRelativeError)} of the actual wait, over ${report.eta.samples} ` +
      `fans; ${report.eta.shownNoTime} were shown no time (in carts or too little left)`,
    `            median actual wait ${f1(report.eta.medianActualSeconds ?? null)} s; ` +
      `${report.eta.withinOneTick ?? 0} served within one tick; ` +
      `${report.eta.shownTimeNeverAdmitted ?? 0} shown a time but never admitted`,
    ...report.eta.overTime.map((b) => `  told ${String(b.fromSeconds).padStart(4)}–` +
      `${String(b.fromSeconds + 10).padEnd(4)} s  ${String(b.samples).padStart(6)} fans  ` +
      `median error ${f1(b.medianErrorSeconds).padStart(6)} s  ${pct(b.medianRelativeError)}`),
    ...endOfSaleLines(report),
    '',
  ];
  if (report.audit === null) {
    lines.push(`audit       NOT RUN: ${report.auditSkipped ?? 'no database access'}`);
  } else {
    lines.push(`audit       ${report.audit.ok ? 'CLEAN' : 'VIOLATIONS FOUND'}`);
    for (const check of report.audit.checks) {
      lines.push(`  ${check.ok ? 'ok  ' : 'FAIL'} ${check.name}` +
        `${check.ok ? '' : ` — ${check.violations}: ${check.detail}`}`);
    }
    for (const zone of report.audit.zones) {
      lines.push(`  zone ${zone.zone}: ${zone.available} available + ${zone.held} held + ` +
        `${zone.sold} sold = ${zone.available + zone.held + zone.sold} of ${zone.capacity}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

const escape = (text: string): string =>
  text.replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[ch] ?? ch);

interface Series {
  name: string;
  colour: string;
  points: [number, number][];
}

/** A line chart as inline SVG. */
function lineChart(title: string, xLabel: string, series: Series[]): string {
  const width = 640;
  const height = 220;
  const pad = { left: 56, right: 12, top: 28, bottom: 32 };
  const all = series.flatMap((s) => s.points);
  const maxX = Math.max(1, ...all.map((p) => p[0]));
  const maxY = Math.max(1, ...all.map((p) => p[1]));
  const x = (v: number): number => pad.left + (v / maxX) * (width - pad.left - pad.right);
  const y = (v: number): number => height - pad.bottom - (v / maxY) * (height - pad.top - pad.bottom);
  const paths = series.map((s) => {
    const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`)
      .join(' ');
    return `<path d="${d}" fill="none" stroke="${s.colour}" stroke-width="2"/>`;
  }).join('');
  const legend = series.map((s, i) =>
    `<text x="${pad.left + 8 + i * 150}" y="18" fill="${s.colour}" font-size="12">■ ${escape(s.name)}</text>`)
    .join('');
  return `<figure><figcaption>${escape(title)}</figcaption>
<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img"
 aria-label="${escape(title)}">
<line x1="${pad.left}" y1="${height - pad.bottom}" x2="${width - pad.right}" y2="${height - pad.bottom}" stroke="#999"/>
<line x1="${pad.left}" y1="${pad.top}" x2="${pad.left}" y2="${height - pad.bottom}" stroke="#999"/>
<text x="${pad.left - 6}" y="${pad.top + 4}" text-anchor="end" font-size="11">${Math.round(maxY)}</text>
<text x="${pad.left - 6}" y="${height - pad.bottom}" text-anchor="end" font-size="11">0</text>
<text x="${width - pad.right}" y="${height - 8}" text-anchor="end" font-size="11">${f1(maxX)} ${escape(xLabel)}</text>
${legend}${paths}</svg></figure>`;
}

/** Admissions per second from the cumulative admitted series. */
function rates(points: TimelinePoint[], pick: (p: TimelinePoint) => number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1] as TimelinePoint;
    const b = points[i] as TimelinePoint;
    const dt = (b.tMs - a.tMs) / 1000;
    if (dt > 0) out.push([b.tMs / 1000, Math.max(0, (pick(b) - pick(a)) / dt)]);
  }
  return out;
}

/** The points where `pick` has a figure (a gap, not a false zero, where it has none). */
function reported(
  points: TimelinePoint[], pick: (p: TimelinePoint) => number | null,
): [number, number][] {
  return points.flatMap((p) => {
    const value = pick(p);
    return value === null || !Number.isFinite(value) ? [] : [[p.tMs / 1000, value]];
  });
}

/** An interval's server-side hold quantile, ms; past the last bucket drawn at 10 s. */
function serverMs(p: TimelinePoint, which: 'p50Ms' | 'p99Ms'): number | null {
  if (p.serverHold === null || p.serverHold.count === 0) return null;
  const value = p.serverHold[which];
  return value === Infinity ? 10_000 : value;
}

/** The self-contained HTML page. */
export function renderHtml(report: SimReport): string {
  const t = report.timeline;
  const at = (pick: (p: TimelinePoint) => number): [number, number][] =>
    t.map((p) => [p.tMs / 1000, pick(p)]);
  const charts = [
    lineChart('Tickets over time', 's', [
      { name: 'sold', colour: '#2a7', points: at((p) => p.sold) },
      { name: 'held', colour: '#e90', points: at((p) => p.held) },
      { name: 'available', colour: '#36c', points: at((p) => p.available) },
    ]),
    lineChart('Queue length (fans waiting, from the server)', 's', [
      { name: 'waiting', colour: '#c36', points: at((p) => p.waiting) },
    ]),
    lineChart('Admissions and holds per second', 's', [
      { name: 'admissions/s', colour: '#36c', points: rates(t, (p) => p.admitted) },
      { name: 'holds/s', colour: '#2a7', points: rates(t, (p) => p.holdsOk) },
      { name: 'hold conflicts/s', colour: '#c33', points: rates(t, (p) => p.holdConflicts) },
    ]),
    lineChart('Store pacing: the pace factor (% of the admission rate) and store wait', 's', [
      { name: 'pace factor %', colour: '#36c', points: reported(t, (p) =>
        p.storePaceFactor === null ? null : p.storePaceFactor * 100) },
      { name: 'store wait ×100 ms', colour: '#e90', points: reported(t, (p) =>
        p.storeWaitMs === null ? (p.storePaceFactor === null ? null : 0) : p.storeWaitMs / 100) },
    ]),
    lineChart('Holds refused as busy per second (503 store_busy)', 's', [
      { name: 'busy refusals/s', colour: '#c33', points: rates(t, (p) => p.holdsBusy) },
    ]),
    lineChart('Server-side hold latency per interval (store node /metrics, bucket bounds; ' +
      'beyond 10 s drawn at 10 s)', 's', [
      { name: 'p50 ms', colour: '#2a7', points: reported(t, (p) => serverMs(p, 'p50Ms')) },
      { name: 'p99 ms', colour: '#c33', points: reported(t, (p) => serverMs(p, 'p99Ms')) },
    ]),
    lineChart('ETA error over time (median, by when fans were told; s after on-sale)', 's', [
      { name: 'median error s', colour: '#c33',
        points: report.eta.overTime.map((b) => [b.fromSeconds, b.medianErrorSeconds]) },
      { name: 'median error % of wait', colour: '#36c',
        points: report.eta.overTime.map((b) => [b.fromSeconds, b.medianRelativeError * 100]) },
    ]),
    lineChart('ETA: predicted vs actual wait (each dot a fan, sorted by actual)', 'fans', [
      { name: 'actual s', colour: '#333', points: report.eta.points.map((p, i) => [i, p.actualSeconds]) },
      { name: 'predicted s', colour: '#e90',
        points: report.eta.points.map((p, i) => [i, p.predictedSeconds]) },
    ]),
  ];
  const stepRows = report.steps.map((s) => `<tr><td>${escape(s.step)}</td><td>${s.count}</td>
<td>${s.errors}</td><td>${s.busy}</td>
<td>${f1(s.p50Ms)}</td><td>${f1(s.p95Ms)}</td><td>${f1(s.p99Ms)}</td>
<td>${f1(s.maxMs)}</td><td>${escape(JSON.stringify(s.statuses))}</td></tr>`).join('');
  const auditRows = report.audit === null
    ? `<p class="bad">Audit not run: ${escape(report.auditSkipped ?? 'no database access')}</p>`
    : `<table><tr><th>check</th><th>result</th><th>violations</th></tr>${report.audit.checks.map(
      (c) => `<tr><td>${escape(c.name)}</td><td class="${c.ok ? 'good' : 'bad'}">${c.ok ? 'ok' : 'FAIL'}</td>
<td>${c.violations}</td></tr>`).join('')}</table>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Stampede simulation ${escape(report.startedAt)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.good{color:#2a7}.bad{color:#c33;font-weight:bold}
figure{margin:1em 0}figcaption{font-weight:bold}pre{background:#f6f6f6;padding:1em;overflow:auto}</style>
</head><body><h1>Stampede on-sale simulation</h1>
<pre>${escape(renderText(report))}</pre>
<h2>Charts</h2>${charts.join('\n')}
<h2>Latency per step</h2><table><tr><th>step</th><th>count</th><th>errors</th>
<th>busy (503)</th><th>p50 ms</th>
<th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>statuses</th></tr>${stepRows}</table>
<h2>Invariant audit</h2>${auditRows}
<h2>Options</h2><pre>${escape(JSON.stringify(report.options, null, 2))}</pre>
</body></html>\n`;
}
