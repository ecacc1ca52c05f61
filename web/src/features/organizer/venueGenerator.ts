/**
 * The venue generator: an organizer describes a venue in a few numbers (sections × rows ×
 * seats, curved or straight, standing areas) and gets the venue body the API takes, with
 * layout hints that place every section around a stage. Pure, so the live preview and the
 * submitted body are the same value.
 */
import { limits } from '@server/config/limits';
import {
  standingOutline, standingSize, type LayoutHint,
} from '../../lib/venueGeometry';

/** What the organizer types in. */
export interface GeneratorInput {
  name: string;
  city: string;
  /** Curved: sections on an arc facing the stage (an arena); straight: side by side. */
  shape: 'curved' | 'straight';
  sections: number;
  rowsPerSection: number;
  /** Seats in each section's front row. */
  seatsPerRow: number;
  /** Curved only: rows further back get more seats, so a section keeps its wedge. */
  widenRows: boolean;
  rowLabels: 'numbers' | 'letters';
  standingAreas: number;
  standingCapacity: number;
}

/** A generated section: the API's section body with its layout hint. */
export type GeneratedSection =
  | { key: string; name: string; kind: 'seated'; rows: { label: string; seats: number }[];
    layout: LayoutHint }
  | { key: string; name: string; kind: 'standing'; capacity: number; layout: LayoutHint };

/** The venue body for POST /venues. */
export interface GeneratedVenue {
  name: string;
  city: string;
  sections: GeneratedSection[];
}

/** A problem with the input, naming the field it belongs to. */
export interface GeneratorProblem {
  field: keyof GeneratorInput;
  message: string;
}

/** Sensible starting values: a mid-sized arena. */
export const defaultGeneratorInput: GeneratorInput = {
  name: '', city: '', shape: 'curved', sections: 6, rowsPerSection: 12, seatsPerRow: 16,
  widenRows: true, rowLabels: 'numbers', standingAreas: 1, standingCapacity: 800,
};

/** The stage sits in front of y = 0; standing areas start here. */
const standingFrontY = 2;
const sectionGap = 2;
const aisleAfterStanding = 4;

/** Row labels: 1, 2, 3… or A…Z, AA, AB… (spreadsheet columns). */
export function rowLabel(index: number, style: GeneratorInput['rowLabels']): string {
  if (style === 'numbers') return String(index + 1);
  let n = index + 1;
  let label = '';
  while (n > 0) {
    const rem = (n - 1) % 26;
    label = String.fromCharCode(65 + rem) + label;
    n = Math.floor((n - 1) / 26);
  }
  return label;
}

/** Checks the numbers against the API's limits before anything is sent. */
export function validateGeneratorInput(input: GeneratorInput): GeneratorProblem[] {
  const problems: GeneratorProblem[] = [];
  const whole = (field: keyof GeneratorInput, value: number, min: number, max: number) => {
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push({ field, message: `between ${min} and ${max}` });
    }
  };
  if (input.name.trim() === '') problems.push({ field: 'name', message: 'required' });
  if (input.city.trim() === '') problems.push({ field: 'city', message: 'required' });
  whole('sections', input.sections, 0, limits.sectionsPerVenue);
  whole('rowsPerSection', input.rowsPerSection, 1, limits.rowsPerSection);
  whole('seatsPerRow', input.seatsPerRow, 1, limits.seatsPerRow);
  whole('standingAreas', input.standingAreas, 0, limits.sectionsPerVenue);
  whole('standingCapacity', input.standingCapacity, 1, limits.standingCapacity);
  if (input.sections + input.standingAreas === 0) {
    problems.push({ field: 'sections', message: 'at least one section or standing area' });
  }
  if (input.sections + input.standingAreas > limits.sectionsPerVenue) {
    problems.push({ field: 'sections', message: `at most ${limits.sectionsPerVenue} in all` });
  }
  if (problems.length === 0 && venueCapacity(generateVenue(input)) > limits.ticketsPerVenue) {
    problems.push({ field: 'sections', message: `at most ${limits.ticketsPerVenue} tickets` });
  }
  return problems;
}

/** Seats plus standing places. */
export function venueCapacity(venue: GeneratedVenue): number {
  return venue.sections.reduce((sum, section) => sum + (section.kind === 'seated'
    ? section.rows.reduce((rows, row) => rows + row.seats, 0)
    : section.capacity), 0);
}

function standingSections(input: GeneratorInput): GeneratedSection[] {
  const { width } = standingSize(input.standingCapacity);
  const total = input.standingAreas * width + (input.standingAreas - 1) * sectionGap;
  return Array.from({ length: input.standingAreas }, (_, i) => ({
    key: `GA${i + 1}`,
    name: input.standingAreas === 1 ? 'Standing' : `Standing ${i + 1}`,
    kind: 'standing' as const,
    capacity: input.standingCapacity,
    layout: { x: -total / 2 + i * (width + sectionGap) + width / 2, y: standingFrontY },
  }));
}

/** How far the first seated row stays from the stage: behind the standing areas. */
function seatedFrontY(input: GeneratorInput): number {
  if (input.standingAreas === 0) return standingFrontY + 2;
  return standingFrontY + standingSize(input.standingCapacity).depth + aisleAfterStanding;
}

/** A ring about the stage's centre must pass outside every corner of the standing areas. */
function clearRadius(input: GeneratorInput, standing: GeneratedSection[]): number {
  let far = standingFrontY;
  for (const area of standing) {
    if (area.kind !== 'standing') continue;
    for (const corner of standingOutline(area.capacity, area.layout)) {
      far = Math.max(far, Math.hypot(corner.x, corner.y));
    }
  }
  return input.standingAreas === 0 ? far + 2 : far + aisleAfterStanding;
}

function seatedRows(input: GeneratorInput, arcRad: number): { label: string; seats: number }[] {
  return Array.from({ length: input.rowsPerSection }, (_, i) => ({
    label: rowLabel(i, input.rowLabels),
    // On an arc each row is one unit further out, so its length grows by the arc angle.
    seats: Math.min(limits.seatsPerRow,
      input.seatsPerRow + (input.widenRows && arcRad > 0 ? Math.round(i * arcRad) : 0)),
  }));
}

function seatedSection(i: number, rows: { label: string; seats: number }[],
  layout: LayoutHint): GeneratedSection {
  const key = String(101 + i);
  return { key, name: `Section ${key}`, kind: 'seated', rows, layout };
}

/**
 * Curved: sections share one ring about the stage's centre, spread over up to 180°, each
 * turned to face the stage with a curve matching the ring. Straight: side by side.
 */
function seatedSections(input: GeneratorInput, standing: GeneratedSection[]):
  GeneratedSection[] {
  const n = input.sections;
  const width = input.seatsPerRow;
  const total = n * width + (n - 1) * sectionGap;
  const front = seatedFrontY(input);
  if (input.shape === 'straight' || n === 0) {
    return Array.from({ length: n }, (_, i) => seatedSection(i, seatedRows(input, 0),
      { x: -total / 2 + i * (width + sectionGap) + width / 2, y: front }));
  }
  const spanRad = Math.min(Math.PI, Math.max(n * 0.5, 0.6));
  const radius = Math.max(clearRadius(input, standing), total / spanRad);
  const arcRad = Math.max(width - 1, 1) / radius;
  return Array.from({ length: n }, (_, i) => {
    const along = -total / 2 + i * (width + sectionGap) + width / 2;
    const angle = along / radius;
    return seatedSection(i, seatedRows(input, arcRad), {
      x: radius * Math.sin(angle),
      y: radius * Math.cos(angle),
      rotationDeg: (-angle * 180) / Math.PI,
      curve: (arcRad * 180) / Math.PI,
    });
  });
}

/** The venue body: standing areas in front of the stage, then the seated sections. */
export function generateVenue(input: GeneratorInput): GeneratedVenue {
  const standing = standingSections(input);
  return {
    name: input.name.trim(),
    city: input.city.trim(),
    sections: [...standing, ...seatedSections(input, standing)],
  };
}
