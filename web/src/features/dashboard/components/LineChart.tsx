/**
 * A small SVG line chart of one metric over time, on the time axis every chart shares;
 * its label reads the latest value.
 */
import { formatClockTime } from '../../../lib/format';
import type { Metric, Sample, TimeDomain } from '../chartData';
import { linePath, timeTicks } from '../chartData';

const width = 300;
const height = 90;

/** Labels near an edge lean inward, so none spills out of the card on a narrow screen. */
function labelShift(at: number): string {
  if (at < 0.15) return 'none';
  return at > 0.85 ? 'translateX(-100%)' : 'translateX(-50%)';
}

export function LineChart({ samples, metric, title, format, domain }: {
  samples: readonly Sample[]; metric: Metric; title: string; format: (value: number) => string;
  domain: TimeDomain | undefined;
}) {
  const { path, yMax, latest } = linePath(samples, metric, width, height, domain);
  const value = latest === null ? '–' : format(latest);
  // A clock label ("19:47:30") is about a fifth of the narrowest card: three fit, four touch.
  const ticks = domain ? timeTicks(domain, 3) : [];
  return (
    <figure className="chart card" data-metric={metric}>
      <figcaption>
        <span className="chart-title">{title}</span>
        <span className="chart-value" data-testid={`value-${metric}`}>{value}</span>
      </figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img"
        aria-label={`${title}: ${value}`}>
        <line x1="0" y1={height} x2={width} y2={height} className="chart-axis" />
        <line x1="0" y1="0" x2={width} y2="0" className="chart-grid" />
        {ticks.map((tick) => (
          <line key={tick.atMs} x1={tick.at * width} y1="0" x2={tick.at * width} y2={height}
            className="chart-grid" vectorEffect="non-scaling-stroke" />
        ))}
        {path !== '' && <path d={path} className="chart-line" vectorEffect="non-scaling-stroke" />}
      </svg>
      <div className="chart-time muted small" aria-hidden="true" data-testid="chart-time">
        {ticks.map((tick) => (
          <span key={tick.atMs} style={{ left: `${(tick.at * 100).toFixed(2)}%`,
            transform: labelShift(tick.at) }}>
            {formatClockTime(tick.atMs)}
          </span>
        ))}
      </div>
      <span className="chart-max muted small" aria-hidden="true">{format(yMax)}</span>
    </figure>
  );
}
