/** A small SVG line chart of one metric over time; its label reads the latest value. */
import type { Metric, Sample } from '../chartData';
import { linePath } from '../chartData';

const width = 300;
const height = 90;

export function LineChart({ samples, metric, title, format }: {
  samples: readonly Sample[]; metric: Metric; title: string; format: (value: number) => string;
}) {
  const { path, yMax, latest } = linePath(samples, metric, width, height);
  const value = latest === null ? '–' : format(latest);
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
        {path !== '' && <path d={path} className="chart-line" vectorEffect="non-scaling-stroke" />}
      </svg>
      <span className="chart-max muted small" aria-hidden="true">{format(yMax)}</span>
    </figure>
  );
}
