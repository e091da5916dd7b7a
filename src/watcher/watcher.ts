import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Pool } from '../pool.js';
import { AccessLineReader } from './access-line-reader.js';
import { UpstreamPools } from './upstream-pools.js';
import { incidentKeyParts, type AlertEvent, type Notifier } from '../shared/alert.js';
import { AlertPolicy, type PolicyState, type Suppressed } from './alert-policy.js';
import { Detectors, type DetectorContext, type Signal } from './detectors.js';
import type { MalformedReason } from './parse-access-line.js';
import { SlidingWindow } from './sliding-window.js';
import { RecentCounts } from './recent-counts.js';
import { readJsonFile, writeJsonFileAtomic } from '../files.js';
import { TailFile, type LineSink, type TailPosition } from './tail-file.js';

type WatcherConfig = Pick<
  Config,
  | 'ACCESS_LOG_PATH'
  | 'STATE_DIR'
  | 'NGINX_STATE_DIR'
  | 'ENV_NAME'
  | 'ACTIVE_POOL'
  | 'WINDOW_SIZE'
  | 'WINDOW_SEC'
  | 'ERROR_RATE_THRESHOLD'
  | 'ERROR_RATE_CLEAR_THRESHOLD'
  | 'ALERT_MIN_REQUESTS'
  | 'LATENCY_P95_THRESHOLD_MS'
  | 'FAILOVER_MIN_REQUESTS'
  | 'FAILOVER_MIN_SHARE_PCT'
  | 'FAILOVER_WINDOW_SEC'
  | 'ALERT_COOLDOWN_SEC'
  | 'MAINTENANCE_MODE'
>;

export interface WatcherDeps {
  config: WatcherConfig;
  log: Logger;
  metrics?: Metrics;
  notifiers: Notifier[];
  /** The pool nginx should be sending traffic to now; the deploy layer changes it at runtime. */
  getActivePool?: () => Pool;
  isChaosOn?: (pool: Pool) => boolean;
  maintenance?: () => boolean;
  /** Told (at most once a second per pool) when nginx logs a failed attempt on a pool: auto-demote probes at once. */
  onUpstreamTrouble?: (pool: Pool) => void;
  /** Told of each alert maintenance held back (the maintenance announcement counts them). */
  onHeldBack?: (held: Suppressed) => void;
  /** The environment's name in alerts [ENV_NAME, else the host name]; the app passes the deploy layer's. */
  envName?: () => string;
  /** Tail options for tests and benchmarks. */
  tail?: { startAt?: 'end' | 'start'; pollMs?: number; activePollMs?: number; saveEveryMs?: number; rotationGraceMs?: number };
  /** How often quiet-time checks run (window expiry, held-back alerts). */
  tickMs?: number;
}

export interface PoolSnapshot {
  requests: number;
  clientErrors: number;
  errorRatePct: number;
  p95Ms: number | undefined;
  release: string | undefined;
}

export interface WatcherSnapshot {
  path: string;
  activePool: Pool;
  maintenance: boolean;
  window: { size: number; maxAgeSec: number; requests: number };
  errorRatePct: number;
  upstreamErrorRatePct: number;
  latencyMs: { p50: number | undefined; p95: number | undefined; p99: number | undefined };
  pools: Record<Pool, PoolSnapshot>;
  lines: {
    read: number;
    malformed: number;
    byReason: Partial<Record<MalformedReason, number>>;
    nonUtf8: number;
    /** Lines whose processing threw (a bug): logged at error level and skipped. */
    failed: number;
    /** Requests nginx answered with the maintenance page: outside the window and every error count. */
    maintenancePage: number;
  };
  lagBytes: number;
  openIncidents: string[];
  explained: string[];
  suppressed: Suppressed[];
  alertsSent: number;
}

interface SavedState {
  tail?: TailPosition;
  policy?: PolicyState;
}

const SAMPLE_LINES = 5;
/** Alert kinds the detectors raise (the rest come from deploy control through raise()). */
const DETECTOR_KINDS = new Set(['failover', 'recovery', 'error_rate', 'latency', 'all_down']);
const STATUS_CLASSES = ['1xx', '1xx', '2xx', '3xx', '4xx', '5xx'];
const POOL_LABELS = ['none', 'blue', 'green'] as const;

/**
 * tail -> parse -> window -> detectors -> alert policy -> notifiers, with a lifecycle. Everything
 * per line is synchronous and allocation-free in the common case; per-read work (metrics, latency
 * check) runs in batchEnd().
 */
export class Watcher {
  readonly #d: WatcherDeps;
  readonly #reader: AccessLineReader;
  readonly #window: SlidingWindow;
  readonly #detectors: Detectors;
  readonly #policy: AlertPolicy;
  readonly #tail: TailFile;
  readonly #stateFile: string;
  readonly #log: Logger;
  #ctx: DetectorContext;
  #ctxStale = true;
  #tick: NodeJS.Timeout | undefined;
  #samples: string[] = [];
  /** Sample lines of the current block not decoded yet: a ring of (start, end) byte positions. */
  #sampleAt = new Int32Array(2 * SAMPLE_LINES);
  #sampleHead = 0;
  #sampleCount = 0;
  #block: Buffer | undefined;
  #releases: Record<Pool, string | undefined> = { blue: undefined, green: undefined };
  #linesRead = 0;
  #malformed = 0;
  #byReason: Partial<Record<MalformedReason, number>> = {};
  #nonUtf8 = 0;
  #lineErrors = 0;
  #alertsSent = 0;
  #pendingLines = 0;
  #pendingMalformed = 0;
  #pendingRequests = new Int32Array(18);
  #pendingUpstream = new Int32Array(3);
  #pendingRetried = new Int32Array(2);
  #pendingPage = 0;
  #pageLines = 0;
  /** Cumulative per pool (blue, green): answered, failed attempts, sent straight to the other pool while active. */
  #served = [0, 0];
  #failedAttempts = [0, 0];
  #benched = [0, 0];
  #clientErrors = 0;
  /** Requests a retry saved over the last 5 minutes of log time, by the pool that failed (blue, green). */
  #retried = new RecentCounts(300, 2);
  #latencyMs: number;
  #debugSamples = 0;
  #deliveries: Promise<void>[] = [];

  constructor(deps: WatcherDeps) {
    this.#d = deps;
    const c = deps.config;
    // nginx's own table of which address is which pool (nginx/bluegreen-nginx-members.sh).
    const pools = new UpstreamPools(join(c.NGINX_STATE_DIR, 'upstream-pools'));
    this.#reader = new AccessLineReader((address) => pools.poolOf(address));
    this.#log = deps.log.child({ component: 'watcher' });
    this.#latencyMs = c.LATENCY_P95_THRESHOLD_MS;
    this.#stateFile = join(c.STATE_DIR, 'watcher-state.json');
    this.#window = new SlidingWindow({ size: c.WINDOW_SIZE, maxAgeMs: c.WINDOW_SEC * 1000 });
    this.#policy = new AlertPolicy(
      {
        // Read when an alert is built: the deploy layer learns the compose project after start-up.
        get env() {
          return deps.envName?.() ?? c.ENV_NAME ?? hostname();
        },
        cooldownMs: c.ALERT_COOLDOWN_SEC * 1000,
        windowSize: c.WINDOW_SIZE,
      },
      (a) => this.#send(a),
    );
    this.#policy.onSuppressed = (s) => {
      this.#d.metrics?.alerts.inc({ kind: incidentKeyParts(s.key).kind, status: 'suppressed' });
      this.#log.info({ suppressed: s }, 'alert held back');
      if (s.reason === 'maintenance') this.#d.onHeldBack?.(s);
    };
    this.#detectors = new Detectors(
      {
        errorRateThreshold: c.ERROR_RATE_THRESHOLD,
        errorRateClearThreshold: c.ERROR_RATE_CLEAR_THRESHOLD,
        minRequests: c.ALERT_MIN_REQUESTS,
        latencyP95ThresholdMs: c.LATENCY_P95_THRESHOLD_MS,
        failoverMinRequests: c.FAILOVER_MIN_REQUESTS,
        failoverMinSharePct: c.FAILOVER_MIN_SHARE_PCT,
        failoverWindowSec: c.FAILOVER_WINDOW_SEC,
      },
      (s) => this.#onSignal(s),
    );
    this.#ctx = this.#readContext();
    const sink: LineSink = {
      lines: (buf, s, e) => this.#lines(buf, s, e),
      huge: () => {
        this.#linesRead++;
        this.#pendingLines++;
        this.#bad('huge');
      },
      batchEnd: () => this.#batchEnd(),
    };
    this.#tail = new TailFile({
      path: c.ACCESS_LOG_PATH,
      sink,
      log: this.#log,
      ...deps.tail,
      store: {
        load: async () => (await readJsonFile<SavedState>(this.#stateFile))?.tail,
        save: (pos) => this.#saveState(pos),
      },
    });
  }

  async start(): Promise<void> {
    const saved = await readJsonFile<SavedState>(this.#stateFile);
    if (saved?.policy) {
      this.#policy.restore(saved.policy);
      this.#detectors.restore(saved.policy.open.map((o) => o.key).filter((k) => DETECTOR_KINDS.has(incidentKeyParts(k).kind)));
    }
    await this.#tail.start();
    this.#tick = setInterval(() => this.#onTick(), this.#d.tickMs ?? 1000);
    this.#tick.unref();
    this.#log.info({ path: this.#d.config.ACCESS_LOG_PATH, position: this.#tail.position() }, 'watcher started');
  }

  async stop(): Promise<void> {
    clearInterval(this.#tick);
    await this.#tail.stop();
    await Promise.allSettled(this.#deliveries);
    this.#log.info({ position: this.#tail.position() }, 'watcher stopped');
  }

  /** Read what the file holds now (tests and benchmarks; the watcher reads on its own otherwise). */
  async poke(): Promise<void> {
    await this.#tail.poke();
  }

  snapshot(): WatcherSnapshot {
    const w = this.#window;
    const pool = (p: Pool): PoolSnapshot => ({
      requests: w.requests(p),
      clientErrors: w.clientErrors(p),
      errorRatePct: w.requests(p) === 0 ? 0 : round((w.clientErrors(p) * 100) / w.requests(p)),
      p95Ms: w.percentileMs(0.95, p),
      release: this.#releases[p],
    });
    return {
      path: this.#d.config.ACCESS_LOG_PATH,
      activePool: this.#ctx.activePool,
      maintenance: this.#ctx.maintenance,
      window: { size: w.size, maxAgeSec: w.maxAgeMs / 1000, requests: w.count },
      errorRatePct: round(w.clientErrorRate()),
      upstreamErrorRatePct: round(w.upstreamErrorRate()),
      latencyMs: { p50: w.percentileMs(0.5), p95: w.percentileMs(0.95), p99: w.percentileMs(0.99) },
      pools: { blue: pool('blue'), green: pool('green') },
      lines: { read: this.#linesRead, malformed: this.#malformed, byReason: { ...this.#byReason }, nonUtf8: this.#nonUtf8, failed: this.#lineErrors, maintenancePage: this.#pageLines },
      lagBytes: this.#tail.lagBytes,
      openIncidents: this.#policy.openKeys(),
      explained: this.#detectors.explainedKeys(),
      suppressed: this.#policy.suppressed.slice(-10),
      alertsSent: this.#alertsSent,
    };
  }

  /** An alert raised whole by deploy control: through the same policy and notifiers as the detectors'. */
  raise(alert: AlertEvent): void {
    this.#ctx = this.#readContext();
    this.#ctxStale = true;
    this.#policy.raise(alert, this.#ctx.maintenance);
  }

  /** A pool's upstream attempts since the watcher started, for the post-switch guard (deltas). */
  attemptCounts(pool: Pool): { served: number; failed: number; benched: number; clientErrors: number } {
    const i = pool === 'blue' ? 0 : 1;
    return { served: this.#served[i]!, failed: this.#failedAttempts[i]!, benched: this.#benched[i]!, clientErrors: this.#clientErrors };
  }

  /** A pool's figures over the window, for the deploy layer (status, post-switch guard). */
  poolStats(pool: Pool): { errorRate: number | undefined; p95Ms: number | undefined; samples: number; retried5m: number } {
    const w = this.#window;
    const n = w.requests(pool);
    this.#retried.expire(Date.now());
    return {
      errorRate: n >= this.#d.config.ALERT_MIN_REQUESTS ? round((w.clientErrors(pool) * 100) / n) : undefined,
      p95Ms: w.percentileMs(0.95, pool),
      samples: n,
      retried5m: this.#retried.totals[pool === 'blue' ? 0 : 1]!,
    };
  }

  // --- per line ----------------------------------------------------------------------------------

  #lines(buf: Buffer, start: number, end: number): void {
    if (this.#ctxStale) {
      // Once per read: the deploy layer's answers are fresh for each batch of lines.
      this.#ctx = this.#readContext();
      this.#ctxStale = false;
    }
    const r = this.#reader;
    r.begin(buf, start, end);
    this.#block = buf;
    let lines = 0;
    try {
      for (let at = start; ; at = r.end + 1) {
        lines++;
        try {
          const bad = r.read(at);
          // nginx never writes an empty line either: every line is a request or counted as malformed.
          if (bad !== undefined) this.#bad(bad, buf, r.start, r.end);
          else this.#line(r);
        } catch (err) {
          // A bug on one line (ours, or a hook's) costs that line, not the rest of the read.
          this.#lineFailed(err, buf, at, end);
        }
        if (r.end >= end) break;
      }
    } finally {
      this.#linesRead += lines;
      this.#pendingLines += lines;
      this.#keepSamples();
      this.#block = undefined;
    }
  }

  #lineFailed(err: unknown, buf: Buffer, at: number, end: number): void {
    const r = this.#reader;
    // The reader may have failed before it found the line's end: go on after its newline.
    if (r.start !== at || r.end <= at) {
      const nl = buf.indexOf(10, at);
      r.start = at;
      r.end = nl < 0 || nl > end ? end : nl;
    }
    this.#lineErrors++;
    this.#log.error({ err, line: buf.toString('utf8', r.start, Math.min(r.end, r.start + 300)) }, 'processing an access-log line failed; going on with the next');
  }

  #line(r: AccessLineReader): void {
    if (r.nonUtf8) this.#nonUtf8++;
    // The maintenance page's 503s are what an operator asked for, not a pool failing: counted on
    // their own, kept out of the window, the error counts and the detectors (no alert, no streak).
    if (r.maintenancePage) {
      this.#pageLines++;
      this.#pendingPage++;
      return;
    }
    this.#window.push(r);
    if (r.status >= 500) this.#clientErrors++;
    else if (r.pool !== undefined) {
      this.#served[r.pool === 'blue' ? 0 : 1]!++;
      // One attempt, straight to the pool that is not active: nginx has benched the active pool.
      if (r.attempts === 1 && r.attemptFailures === 0 && r.pool !== this.#ctx.activePool) this.#benched[r.pool === 'blue' ? 1 : 0]!++;
    }
    if (r.failedPool !== undefined) this.#failedAttempts[r.failedPool === 'blue' ? 0 : 1]!++;
    const p = r.pool === undefined ? 0 : r.pool === 'blue' ? 1 : 2;
    const cls = r.status >= 100 && r.status < 600 ? (r.status / 100) | 0 : 0;
    this.#pendingRequests[p * 6 + cls]!++;
    if (r.attemptFailures > 0) {
      this.#pendingUpstream[r.failedPool === undefined ? 0 : r.failedPool === 'blue' ? 1 : 2]!++;
      if (r.attempts > 1 && r.status < 500 && r.failedPool !== undefined) {
        const i = r.failedPool === 'blue' ? 0 : 1;
        this.#retried.add(r.time, i);
        this.#pendingRetried[i]!++;
      }
      if (r.failedPool !== undefined && this.#d.onUpstreamTrouble) this.#trouble(r.failedPool);
    }
    if (r.pool !== undefined && r.release !== undefined) this.#releases[r.pool] = r.release;
    if (r.status >= 500 || r.attemptFailures > 0 || (r.pool !== undefined && r.pool !== this.#ctx.activePool) || r.requestTime * 1000 > this.#latencyMs) {
      // Only where the line is: decoded when a signal needs it or the block ends (at most
      // SAMPLE_LINES a block), not for every line of an incident.
      const ring = this.#sampleAt;
      const k = (this.#sampleHead + this.#sampleCount) % SAMPLE_LINES;
      ring[2 * k] = r.start;
      ring[2 * k + 1] = r.end;
      if (this.#sampleCount < SAMPLE_LINES) this.#sampleCount++;
      else this.#sampleHead = (this.#sampleHead + 1) % SAMPLE_LINES;
    }
    this.#detectors.onLine(r, this.#window, this.#ctx);
  }

  #troubleAt: Record<Pool, number> = { blue: 0, green: 0 };

  #trouble(pool: Pool): void {
    const now = Date.now();
    if (now - this.#troubleAt[pool] < 1000) return;
    this.#troubleAt[pool] = now;
    try {
      this.#d.onUpstreamTrouble!(pool);
    } catch (err) {
      this.#log.error({ err, pool }, 'upstream trouble hook failed');
    }
  }

  /** Turn the pending sample positions of the current block into text. */
  #keepSamples(): void {
    const buf = this.#block;
    if (buf === undefined || this.#sampleCount === 0) return;
    const samples = this.#samples;
    for (let n = 0; n < this.#sampleCount; n++) {
      const k = (this.#sampleHead + n) % SAMPLE_LINES;
      if (samples.length >= SAMPLE_LINES) samples.shift();
      samples.push(buf.toString('utf8', this.#sampleAt[2 * k], this.#sampleAt[2 * k + 1]));
    }
    this.#sampleHead = 0;
    this.#sampleCount = 0;
  }

  #bad(reason: MalformedReason, buf?: Buffer, s = 0, e = 0): void {
    this.#malformed++;
    this.#pendingMalformed++;
    this.#byReason[reason] = (this.#byReason[reason] ?? 0) + 1;
    // Sampled: a flood of bad lines must not become a flood of log lines.
    if (this.#debugSamples < 20 && this.#log.isLevelEnabled('debug')) {
      this.#debugSamples++;
      this.#log.debug({ reason, line: buf?.toString('utf8', s, Math.min(e, s + 300)) }, 'malformed access-log line');
    }
  }

  #batchEnd(): void {
    this.#ctx = this.#readContext();
    this.#ctxStale = true;
    this.#detectors.evaluate(this.#window, this.#ctx);
    this.#flushMetrics();
  }

  #onTick(): void {
    this.#debugSamples = 0;
    this.#ctx = this.#readContext();
    this.#ctxStale = true;
    this.#window.expire(Date.now());
    this.#detectors.evaluate(this.#window, this.#ctx);
    this.#policy.tick(this.#ctx.maintenance);
    this.#flushMetrics();
  }

  #readContext(): DetectorContext {
    const d = this.#d;
    return {
      activePool: d.getActivePool ? d.getActivePool() : d.config.ACTIVE_POOL,
      isChaosOn: d.isChaosOn ?? (() => false),
      maintenance: d.maintenance ? d.maintenance() : d.config.MAINTENANCE_MODE,
    };
  }

  #onSignal(s: Signal): void {
    if (s.kind === 'failover' && s.status === 'firing' && s.pool) this.#d.metrics?.failovers.inc({ from_pool: s.pool });
    this.#keepSamples();
    this.#policy.handle(s, {
      maintenance: this.#ctx.maintenance,
      samples: this.#window.count,
      sampleLines: [...this.#samples],
      release: (p) => (p ? this.#releases[p] : undefined),
    });
  }

  #send(a: AlertEvent): void {
    this.#alertsSent++;
    this.#d.metrics?.alerts.inc({ kind: a.kind, status: a.status });
    for (const n of this.#d.notifiers) {
      const p = n.notify(a).catch((err: unknown) => this.#log.error({ err, notifier: n.name, key: a.key }, 'notifier failed'));
      this.#deliveries.push(p);
      void p.finally(() => {
        const i = this.#deliveries.indexOf(p);
        if (i >= 0) this.#deliveries.splice(i, 1);
      });
    }
  }

  #flushMetrics(): void {
    const m = this.#d.metrics;
    if (!m) {
      this.#pendingLines = 0;
      this.#pendingMalformed = 0;
      this.#pendingPage = 0;
      return;
    }
    if (this.#pendingLines) m.linesRead.inc(this.#pendingLines);
    if (this.#pendingMalformed) m.linesMalformed.inc(this.#pendingMalformed);
    this.#pendingLines = 0;
    this.#pendingMalformed = 0;
    const req = this.#pendingRequests;
    for (let i = 0; i < req.length; i++) {
      if (req[i]) {
        m.requests.inc({ pool: POOL_LABELS[Math.floor(i / 6)]!, status_class: STATUS_CLASSES[i % 6]! }, req[i]);
        req[i] = 0;
      }
    }
    const up = this.#pendingUpstream;
    for (let i = 0; i < 3; i++) {
      if (up[i]) {
        m.upstreamErrors.inc({ pool: POOL_LABELS[i]! }, up[i]);
        up[i] = 0;
      }
    }
    if (this.#pendingPage) {
      m.maintenancePage.inc(this.#pendingPage);
      this.#pendingPage = 0;
    }
    const retried = this.#pendingRetried;
    for (let i = 0; i < 2; i++) {
      if (retried[i]) {
        m.retriedRequests.inc({ pool: POOL_LABELS[i + 1]! }, retried[i]);
        retried[i] = 0;
      }
    }
    const w = this.#window;
    for (const p of ['blue', 'green'] as const) {
      const n = w.requests(p);
      m.errorRate.set({ pool: p }, n === 0 ? 0 : w.clientErrors(p) / n);
      const p95 = w.percentileMs(0.95, p);
      m.latencyP95.set({ pool: p }, p95 === undefined ? 0 : p95 / 1000);
    }
    m.lagBytes.set(this.#tail.lagBytes);
  }

  async #saveState(pos: TailPosition): Promise<void> {
    const policy = this.#policy.state();
    await writeJsonFileAtomic(this.#stateFile, { tail: pos, policy } satisfies SavedState);
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
