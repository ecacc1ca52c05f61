import { describe, expect, it } from 'vitest';
import { resizeViewport, toWorld, zoomAt, type Viewport } from './draw';

describe('resizing the seat map view', () => {
  it('keeps the world point at the centre at the centre, at the same zoom', () => {
    const wide: Viewport = zoomAt({ scale: 2, x: 30, y: -40, width: 1200, height: 700 },
      1.7, 500, 300, 0.1, 60);
    const centre = toWorld(wide, wide.width / 2, wide.height / 2);
    const phone = resizeViewport(wide, 360, 520);
    expect(phone.scale).toBe(wide.scale);
    expect(phone.width).toBe(360);
    expect(phone.height).toBe(520);
    const after = toWorld(phone, phone.width / 2, phone.height / 2);
    expect(after.x).toBeCloseTo(centre.x, 9);
    expect(after.y).toBeCloseTo(centre.y, 9);
  });

  it('gives back the same view when resized there and back', () => {
    const v: Viewport = { scale: 0.8, x: 12, y: 34, width: 800, height: 600 };
    const back = resizeViewport(resizeViewport(v, 390, 844), 800, 600);
    expect(back).toEqual(v);
  });
});
