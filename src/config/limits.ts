/**
 * Every bound in one place: body sizes, layout sizes, batch sizes. Schemas, domain code
 * and (later) the web app read these, so a limit is changed once.
 */
export const limits = {
  bodyBytes: 1024 * 1024,
  nameLength: 200,
  descriptionLength: 10_000,
  emailLength: 254,
  passwordMinLength: 8,
  passwordMaxLength: 200,
  performersPerEvent: 50,
  sectionsPerVenue: 500,
  rowsPerSection: 500,
  seatsPerRow: 1_000,
  standingCapacity: 200_000,
  ticketsPerVenue: 250_000,
  keyLength: 40,
  zonesPerEvent: 100,
  pageSizeDefault: 20,
  pageSizeMax: 100,
  searchQueryLength: 200,
  holdSecondsMin: 1,
  holdSecondsMax: 7_200,
  holdExtensionSecondsMax: 7_200,
  maxTicketsPerCustomerMax: 50,
  priceCentsMax: 100_000_000,
  /** Rows written per INSERT statement when materializing tickets. */
  ticketInsertBatch: 10_000,
} as const;
