/** The live preview canvas: redrawn on the next frame after the layout or the size changes. */
import { useEffect, useRef } from 'react';
import { copy } from '../../../lib/copy';
import { drawVenue, type PreviewSection } from './drawVenue';

export function VenuePreview({ sections, summary }: {
  sections: readonly PreviewSection[]; summary: string;
}) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = canvasRef.current;
    if (canvas === null) return undefined;
    let frame = 0;
    const draw = () => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        const ratio = window.devicePixelRatio || 1;
        const width = canvas.clientWidth;
        const height = canvas.clientHeight;
        canvas.width = Math.round(width * ratio);
        canvas.height = Math.round(height * ratio);
        const ctx = canvas.getContext('2d');
        if (ctx === null) return;
        ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
        drawVenue(ctx, sections, width, height, { stage: copy.organizer.venue.stage });
      });
    };
    draw();
    const observer = new ResizeObserver(draw);
    observer.observe(canvas);
    return () => {
      cancelAnimationFrame(frame);
      observer.disconnect();
    };
  }, [sections]);
  return (
    <figure className="venue-preview">
      <canvas ref={canvasRef} role="img" aria-label={summary} data-testid="venue-preview" />
      <figcaption className="muted small">{summary}</figcaption>
    </figure>
  );
}
