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
  /** Password hashes (scrypt) running at once per process: half of libuv's thread pool. */
  passwordHashConcurrency: 2,
  /** Password hashes waiting for a slot; beyond this a login or registration gets 503. */
  passwordHashQueue: 200,
  /** Accounts per bulk registration request. */
  bulkCustomers: 1_000,
  performersPerEvent: 50,
  sectionsPerVenue: 500,
  rowsPerSection: 500,
  seatsPerRow: 1_000,
  standingCapacity: 200_000,
  ticketsPerVenue: 250_000,
  /** Section layout hints (seat pitches) lie within this distance of the venue's origin. */
  layoutExtent: 100_000,
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
  /** Queue joins numbered together in one transaction (group commit per event and node). */
  queueJoinBatch: 500,
  /**
   * Join batches of one event in flight at once on one node (PGlite always runs one). The
   * second waits for the numbering row's lock inside PostgreSQL, so it starts the moment
   * the first commits instead of a round trip and a turn of Node's event loop later
   * (bench/joinPacing.ts, interleaved, load 19-21: 1.28× the joins/s of one in flight with
   * 100 µs of request CPU per join, 1.38× without; PostgreSQL CPU per join not higher).
   */
  queueJoinBatchesInFlight: 2,
  /**
   * With a join batch running, another of the same event starts beside it only once this
   * many joins wait: fewer ride in the next batch, so a trickle costs no extra commits.
   */
  queueJoinBatchParallelMin: 8,
  /** Moves from the line to the waitlist decided together in one transaction. */
  queueMoveBatch: 200,
  /**
   * Move batches of one event in flight at once on one node (PGlite always runs one). Two
   * are safe (a fan's second click waits for the batch with the first to end; places come
   * from line numbers, not commit order; the locks are those two nodes' batches take) but
   * were not shown faster: on a box loaded by other work (load 8-14, bench/herd.ts, six
   * interleaved pairs) two won three pairs, tied one and lost two, and cost more CPU and
   * commits per move (batches of ~50 fans instead of ~85). One until a quiet run says so.
   */
  queueMoveBatchesInFlight: 1,
  /**
   * With a move batch running, another of the same event starts beside it only once this
   * many moves wait: fewer ride in the next batch, so a trickle costs no extra commits.
   */
  queueMoveBatchParallelMin: 8,
  /** Admissions one tick may grant per event, whatever the configured rate. */
  queueAdmitPerTickMax: 5_000,
  /**
   * The admission tick reads the shape of what is left (runs of adjacent free seats) only
   * while at most this many tickets are available; above it, counts decide the outlook.
   */
  queueShapeScanMax: 20_000,
  /** Fans who left the line that one tick may pass over beyond those it admits. */
  queueLeaversPassedPerTick: 5_000,
  /**
   * Waitlist places reserved for fans who join a line after its first hand-over to the
   * waitlist (beyond them, order among fans moving from the line is by click).
   */
  queueWaitlistSpare: 1_000_000,
  /** Fans named per `queue.closed` outbox row when a line closes. */
  queueClosedNoticeBatch: 1_000,
  /** Events one admission tick looks at. */
  queueEventsPerTick: 200,
  /**
   * The admission duty runs a tick's slot release pass (orders, lapsed carts, idle
   * shoppers: O(live) reads) at most this often per line, and a sixth of QUEUE_IDLE_SECONDS
   * when that is shorter; the ticks between only admit (src/queue/release.ts, migration 071).
   */
  queueSlotReleaseEveryMs: 5_000,
  /** Pre-queue entries keyed or numbered per transaction by the on-sale draw. */
  queueDrawChunk: 25_000,
  /** Draw chunks one admission tick may run per event (each its own transaction). */
  queueDrawChunksPerTick: 40,
  /** Wall time after which a tick starts no further draw chunk for an event. */
  queueDrawTickBudgetMs: 1_000,
  /**
   * How long a node answers a line's status (servedUpTo, pace, supply) from its memory
   * after reading it, when no fresh tick has reached it: at most one read per line per node
   * per this period, and the longest a poll can lag a tick it missed.
   */
  queueStatusMemoMs: 1_000,
  /**
   * A tick heard this long ago no longer vouches for the line on its own (a lost pub/sub
   * message, or a line that stopped ticking): the node reads the status again.
   */
  queueStatusFeedStaleMs: 5_000,
  /** Lines one node follows (a tick subscription on behalf of polls and joins). */
  queueFollowedLinesMax: 1_000,
  /** A followed line nobody polled on this node for this long is unsubscribed. */
  queueFollowIdleMs: 60_000,
  /**
   * How long a cached admission (a fan's pass) may answer a poll after it was read from
   * PostgreSQL: the longest a freed slot is still shown as admitted (queue/admits.ts).
   */
  queueAdmissionCacheMs: 5_000,
  /**
   * How long a node answers a fan's place (number, or that they left) from its own memory
   * before asking the members cache again: the longest a fan who left through another node
   * is still shown in line here (never admitted: admission is read elsewhere).
   */
  queueMemberMemoMs: 5_000,
  /** Fans' places one node keeps in memory (earliest remembered dropped first). */
  queueMemberMemoEntries: 100_000,
  /** A cached pass this close to its expiry or claim deadline is read from PostgreSQL. */
  queueAdmissionMarginMs: 2_000,
  /** Tickets in one hold (the event's per-customer limit usually binds first). */
  seatsPerHold: 50,
  /** Tickets one waitlist entry may ask for (the event's per-customer limit binds too). */
  waitlistQuantityMax: 50,
  /** Waiting entries one return of tickets looks at, earliest first, to place offers. */
  waitlistOfferScan: 500,
  /**
   * Customer locks one return takes up front (src/waitlist/offers.ts, lockAhead) for fans its
   * offers reach only if a fan ahead is refused (over their limit), beside one per fan the
   * offers reach by first fit: bounds a return's advisory locks (they share the server's
   * lock table, 64 per connection by default) when thousands wait at the end of a sale.
   */
  waitlistOfferLocksAhead: 16,
  /** Customers told about one outbox row (an admission tick, a cancelled event). */
  notifyAudienceMax: 100_000,
  /** Notifications per coordination message between nodes. */
  notifyPublishChunk: 500,
  /** Stream notifications replayed to a client reconnecting with Last-Event-ID. */
  notifyReplayMax: 100,
  /** E-mails one dispatcher pass claims. */
  notifyEmailBatch: 50,
  /** Attempts at one e-mail before it is given up (logged). */
  notifyEmailAttempts: 8,
  /** A claimed e-mail is retried after this long if its sender never marked it sent. */
  notifyEmailLeaseSeconds: 60,
  /** Notification rows are kept this long, then pruned. */
  notifyRetentionHours: 168,
  /** Idempotency-Key header length; keys are opaque client strings. */
  idempotencyKeyLength: 200,
  /** How long a duplicate request waits for the first one with its key to finish. */
  idempotencyWaitMs: 20_000,
  /** A 'running' idempotency record older than this belongs to a crashed node. */
  idempotencyStaleSeconds: 300,
  /** Longest Retry-After for a retry whose key's first request is still 'running'. */
  idempotencyRetryAfterMaxSeconds: 30,
  /** Webhook dedupe records and simulated gateway books are kept this long, then pruned. */
  providerEventRetentionDays: 30,
  /** Rows one retention pass deletes per table. */
  retentionBatch: 5_000,
  /** Idempotency records are kept this long, then pruned. */
  idempotencyRetentionHours: 24,
  /**
   * How long a zone claim (standing units, best available) keeps re-planning after losing
   * races to concurrent claims. When it runs out, a fresh count decides: fewer free than
   * asked is insufficient_inventory; otherwise the same code, marked retryable.
   */
  holdClaimBudgetMs: 3_000,
  /**
   * A node's view of a seated zone's free seats (inventory/zoneView.ts) that has no live
   * feed is read again from committed state in the background once it is this old, so
   * other nodes' holds and expired holds reach its picks within about this long (a stale
   * view costs a re-plan, never a double sale: the hold batch decides).
   */
  zoneViewRefreshMs: 1_000,
  /**
   * A view kept current by the event's live feed is still read again this often (its
   * unsold tickets), in the background: a safety net for a subscription that lost batches
   * and has heard none since (a lost batch is otherwise seen as a gap in versions, and
   * read at once).
   */
  zoneViewFedRefreshMs: 30_000,
  /**
   * Reads of one zone's view start at least this far apart. At the end of a sale every fan
   * asking for more seats than are left makes the view read committed state before hearing
   * "not enough"; each still waits for a read started after it asked, but a stream of them
   * shares one read per period instead of keeping a connection reading back to back. The
   * first read of a zone, and one after a quiet spell, start at once.
   */
  zoneViewReadGapMs: 20,
  /** A view older than this (a zone nobody asked for lately) is read before it is used. */
  zoneViewMaxAgeMs: 5_000,
  /**
   * How long a new view's first pick waits for the event's feed subscription before it
   * reads without it (a coordination outage must not hold picks for a command timeout);
   * the view follows the feed from its next read.
   */
  zoneViewSubscribeWaitMs: 100,
  /** How often a node tries again to follow an event's feed for its views after a failure. */
  zoneViewFollowRetryMs: 5_000,
  /**
   * How long a seat this node's batch granted ignores the feed's `available` rows while its
   * own `held` row has not come (those rows are older than the grant). Many relay rounds:
   * past it, a row missed some other way cannot hide a released seat for long.
   */
  zoneViewGrantMs: 2_000,
  /** Feed rows a view keeps while a read runs, to apply on top of it; beyond, it reads again. */
  zoneViewRowsDuringRead: 100_000,
  /**
   * Hold requests of one event decided together in one statement (group commit). Bounds
   * the statement's size and how long its locks are held; more wait for the next batch.
   */
  holdBatchMax: 64,
  /**
   * Hold batches of one event in flight at once on one node (PGlite always runs one). One:
   * requests arriving while a batch runs all ride in the next, so batches are larger and
   * PostgreSQL does less work per hold (over HTTP, 10 interleaved runs: batches of 6.5-14
   * requests on average against 3-5 with 4 in flight, and under half the backend CPU per
   * hold). Several nodes still run their batches side by side; they lock in the same
   * order, so they only queue, never deadlock.
   */
  holdBatchesInFlight: 1,
  /**
   * With a hold batch running, another of the same event starts beside it only once this
   * many requests wait (PostgreSQL only); fewer wait and ride in the next batch whole.
   */
  holdBatchParallelMin: 1,
  /**
   * Load shedding reads the event loop's mean delay over windows this long (core/pressure.ts):
   * short enough to follow a burst, long enough to hold many samples of 10 ms.
   */
  shedWindowMs: 500,
  /**
   * A store node's busy signal for an event (holds/busy.ts) lives this long in coordination
   * after its last publish: a store that stops saying it is busy (healthy again, or dead)
   * stops slowing admissions within this long. A missing signal means healthy.
   */
  storeSignalTtlMs: 5_000,
  /**
   * The web app retries a hold the store refused as busy (503) after its Retry-After at
   * most this many times before it shows the refusal (about a minute at the default 2 s).
   */
  webHoldBusyRetriesMax: 30,
  /** A store node publishes an event's busy signal at most this often. */
  storeSignalPublishMs: 500,
  /**
   * Store pacing recovers this share of the configured admission rate per second once the
   * store is healthy again (from the 10 % floor to the full rate in 9 s).
   */
  storePaceRecoverPerSecond: 0.1,
  /**
   * Checkouts begun together in one statement (orders/checkoutBatch.ts, group commit):
   * bounds the statement's size and how long its locks are held.
   */
  checkoutBatchMax: 64,
  /** Checkout begin batches in flight per node (PostgreSQL; PGlite runs one at a time). */
  checkoutBatchesInFlight: 2,
  /** The simulated gateway's books: charges written in one statement (payments/simulated.ts). */
  simulatedLedgerBatchMax: 64,
  /** The simulated gateway's book-keeping statements in flight at once per node. */
  simulatedLedgerBatchesInFlight: 2,
  /** Payment outcomes settled in one settle batch (orders/settleBatch.ts). */
  settleBatchMax: 64,
  /** Settle batches in flight per node (PostgreSQL; PGlite runs one at a time). */
  settleBatchesInFlight: 4,
  /**
   * While a settle batch runs, another starts beside it only once this many items wait;
   * fewer wait for the running one and go together in the next (group commit).
   */
  settleBatchParallelMin: 16,
  /**
   * Payments a node remembers having confirmed in its own settle batches (the newest), so
   * that the provider's webhooks about them, which arrive within a second or so, are
   * answered without a settle item (orders/settleBatch.ts).
   */
  settledPaymentsRemembered: 20_000,
  /**
   * The hold route refuses by this node's clock only when the sale opens further away than
   * this; nearer the boundary the hold transaction decides by the database clock, so nodes
   * with skewed clocks agree on the second the sale opens.
   */
  saleClockMarginMs: 30_000,
  /** Holds the sweeper tidies per statement. */
  holdSweepBatch: 500,
  /** Payments and refunds the reconciler looks at per pass. */
  reconcileBatch: 100,
  /** A row's first retry waits this long; each later one twice as long as the one before. */
  reconcileBackoffBaseSeconds: 30,
  /** ...up to this. */
  reconcileBackoffMaxSeconds: 3_600,
  /** After this many attempts an unsettled row is logged as an error and counted as stuck. */
  reconcileAlertAttempts: 8,
  /** Signed webhooks older or newer than this (by the server clock) are rejected. */
  webhookToleranceSeconds: 300,
  /** Webhook bodies are small; anything bigger is not from a provider. */
  webhookBodyBytes: 64 * 1024,
  /**
   * Keep-alive connections the simulated gateway posts its webhooks over (per node); more
   * deliveries at once wait for one of them.
   */
  simulatedWebhookConnections: 16,
  /** Orders per page of /me/orders. */
  ordersPageMax: 100,
  /** Venues the organizer's venue list shows. */
  venueListMax: 200,
  /** Orders one organizer order search answers with at most. */
  orderSearchMax: 50,
  /** Per-node cache of public reads: entries of each kind (events, search pages). */
  publicReadCacheEntries: 2_000,
  /** Per-node cache of the organizer's live figures: events kept. */
  statsCacheEntries: 200,
  /**
   * A closed window of the dashboard's series is kept by a node (not read again) once it
   * closed this long plus the statement timeout (PG_STATEMENT_TIMEOUT_MS) ago, counted on a
   * standby from its last replayed commit: beyond one statement, slack for a transaction of a
   * few short ones. A longer one lands late; the full read below repairs it.
   */
  statsSeriesSettleMs: 10_000,
  /** How often a node reads every window of a series again (the kept ones' safety net). */
  statsSeriesFullReadMs: 60_000,
  /** Length of an organizer order search (an order id, a ticket code or an e-mail). */
  orderSearchQueryLength: 254,
  /** How long a node trusts its cached copy of a customer's token version. */
  tokenVersionCacheMs: 5_000,
  /** Customers whose token version one node keeps cached. */
  tokenVersionCacheEntries: 100_000,
  /** Customer tokens one node remembers as verified (MAC checked once per token). */
  verifiedTokenCacheEntries: 100_000,
  /** Customers whose token versions one statement reads (misses are read together). */
  tokenVersionReadBatch: 500,
  /** Longest life of a door staff check-in token. */
  checkinTokenHoursMax: 720,
  /** Ticket codes scanned at the door are this long at most. */
  ticketCodeLength: 64,
  /** Outbox rows the relay stamps, or hands to its sinks, per statement. */
  outboxRelayBatch: 2_000,
  /** Published outbox rows are kept this long (for inspection), then pruned. */
  outboxRetentionSeconds: 30,
  /** Rows one prune statement deletes; a backlog goes over a few rounds. */
  outboxPruneBatch: 20_000,
  /** The relay prunes every this many rounds. */
  outboxPruneEveryRounds: 10,
  /**
   * Embedded PGlite has no autovacuum (single-user mode), and a PostgreSQL server may have it
   * off; storage/maintenance.ts checks the tables this often and analyzes or vacuums the
   * ones past autovacuum's default thresholds: analyze after base + scale × rows changed,
   * vacuum after base + scale × rows dead (on a server only tables with more dead rows than
   * live ones).
   */
  embeddedMaintenanceMs: 5_000,
  embeddedAnalyzeBaseRows: 50,
  embeddedAnalyzeScale: 0.1,
  embeddedVacuumBaseRows: 50,
  embeddedVacuumScale: 0.2,
  /**
   * Shortest time between two analyses (or two vacuums) of one table by that duty: 60 s,
   * autovacuum's own naptime, so a table is maintained no more often than autovacuum would.
   * Tables the product churns (outbox rows published and deleted within seconds) otherwise
   * passed the threshold every pass: in a 1,000,000-fan rehearsal `outbox_events` was
   * analyzed 58 times in 4.5 minutes. A table whose live rows grew past
   * `maintenanceGrowthFactor` × those of its last analysis is analyzed at once regardless.
   */
  maintenanceTableMinSeconds: 60,
  maintenanceGrowthFactor: 2,
  /** Recent delta batches each node keeps per event for Last-Event-ID resumes. */
  liveReplayBatches: 512,
  /** Events one node follows at once (each with its seat states in memory). */
  liveEventsPerNode: 1_000,
  /** Largest message a WebSocket client may send (only `{"type":"snapshot"}` is read). */
  liveClientMessageBytes: 1_024,
  /** Longest Last-Event-ID header read (a version number). */
  liveLastEventIdLength: 20,
} as const;
