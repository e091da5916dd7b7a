import { POOLS, otherPool, type Pool } from '../pool.js';
import type { AlertKind, Severity } from '../shared/alert.js';
import { RecentCounts } from './recent-counts.js';
import type { SlidingWindow } from './sliding-window.js';

/** A condition starting or ending, before the alert policy decides what to send. */
export interface Signal {
  key: string;
  kind: AlertKind;
  status: 'firing' | 'resolved';
  severity: Severity;
  pool: Pool | undefined;
  title: string;
  summary: string;
  observed: number | undefined;
  threshold: number | undefined;
  unit: '%' | 'ms' | undefined;
  explainedBy: string[];
}

/** The world outside the log that detectors weigh: supplied by the deploy layer at runtime. */
export interface DetectorContext {
  activePool: Pool;
  isChaosOn(pool: Pool): boolean;
  maintenance: boolean;
}

export interface DetectorOptions {
  errorRateThreshold: number;
  errorRateClearThreshold: number;
  minRequests: number;
  latencyP95ThresholdMs: number;
  /**
   * A failover is the backup serving a sustained share, not one retried request: at least this many
   * requests served by the backup over the last `failoverWindowSec` seconds of log time [5] …
   */
  failoverMinRequests?: number;
  /** … making up at least this percent of the requests served then [20]. */
  failoverMinSharePct?: number;
  failoverWindowSec?: number;
  /** Requests in a row the active pool serves again before recovery. */
  recoveryMinRequests?: number;
  /** Requests in a row where every upstream failed before "all pools down". */
  allDownMinRequests?: number;
}

/** What the detectors need from the last line (AccessLineReader has these fields). */
export interface DetectorLine {
  /** Epoch ms, as logged (whole seconds). */
  time: number;
  status: number;
  pool: Pool | undefined;
  attempts: number;
  attemptFailures: number;
  noLiveUpstream: boolean;
}

// Keys built once: the per-line path must not build strings.
const FAILOVER_KEY = { blue: 'failover:blue', green: 'failover:green' } as const;
const ERROR_KEY = { blue: 'error_rate:blue', green: 'error_rate:green' } as const;

/**
 * Turns the window and each line into firing/resolved signals. Per-line checks are O(1); the
 * latency check walks the histogram, so it runs once per batch of lines (evaluate()).
 */
export class Detectors {
  readonly #o: Required<DetectorOptions>;
  readonly #emit: (s: Signal) => void;
  #open = new Set<string>();
  #active: Pool | undefined;
  /** Requests served (not 5xx) [0] and those served by the backup [1] over the failover window. */
  #backupShare: RecentCounts;
  #activeStreak = 0;
  #allFailedStreak = 0;
  #okStreak = 0;
  #explained = new Set<string>();

  constructor(options: DetectorOptions, emit: (s: Signal) => void) {
    this.#o = { failoverMinRequests: 5, failoverMinSharePct: 20, failoverWindowSec: 10, recoveryMinRequests: 3, allDownMinRequests: 3, ...options };
    this.#emit = emit;
    this.#backupShare = new RecentCounts(this.#o.failoverWindowSec, 2);
  }

  /** Keys of conditions firing now. */
  openKeys(): string[] {
    return [...this.#open];
  }

  /** After a restart: conditions that were firing, so they resolve instead of firing again. */
  restore(keys: Iterable<string>): void {
    for (const k of keys) this.#open.add(k);
  }

  /** Called once per line, after the line went into the window. */
  onLine(l: DetectorLine, w: SlidingWindow, ctx: DetectorContext): void {
    if (ctx.activePool !== this.#active) this.#activeChanged(ctx);
    const active = ctx.activePool;

    // Failover / recovery: who served this request. A 5xx is not "serving": when the backup
    // fails too, that is all_down's business.
    if (l.pool !== undefined && l.status < 500) {
      const byBackup = l.pool !== active;
      if (byBackup) this.#activeStreak = 0;
      else this.#activeStreak++;
      const share = this.#backupShare;
      share.add(l.time, 0);
      if (byBackup) share.add(l.time, 1);
      const open = this.#open.has(FAILOVER_KEY[active]);
      const served = share.totals[0]!;
      const backup = share.totals[1]!;
      if (!open && byBackup && backup >= this.#o.failoverMinRequests && backup * 100 >= this.#o.failoverMinSharePct * served) {
        this.#fireFailover(active, w, ctx);
      } else if (open && this.#activeStreak >= this.#o.recoveryMinRequests) this.#resolveFailover(active, w);
    }

    // All pools down: the client got a 5xx and no upstream could answer.
    if (l.status >= 500) {
      const allFailed =
        l.noLiveUpstream ||
        (l.attempts > 0 &&
          l.attemptFailures === l.attempts &&
          (l.attempts > 1 || (l.pool !== undefined && l.pool !== active)));
      if (allFailed) {
        this.#allFailedStreak++;
        this.#okStreak = 0;
      }
    } else {
      this.#okStreak++;
      this.#allFailedStreak = 0;
    }
    const downKey = 'all_down:all';
    if (!this.#open.has(downKey)) {
      if (this.#allFailedStreak >= this.#o.allDownMinRequests) {
        const explainedBy = chaosReasons(ctx, ['blue', 'green']);
        this.#open.add(downKey);
        this.#emit({
          key: downKey,
          kind: 'all_down',
          status: 'firing',
          severity: 'critical',
          pool: undefined,
          title: 'All pools down: clients get 5xx and no upstream answers',
          summary: `${this.#allFailedStreak} requests in a row failed on every upstream (client 5xx rate ${fmt(w.clientErrorRate())}%)`,
          observed: round(w.clientErrorRate()),
          threshold: undefined,
          unit: '%',
          explainedBy,
        });
      }
    } else if (this.#okStreak >= this.#o.allDownMinRequests) {
      this.#open.delete(downKey);
      this.#emit({
        key: downKey,
        kind: 'all_down',
        status: 'resolved',
        severity: 'critical',
        pool: undefined,
        title: 'Pools answer again',
        summary: `${this.#okStreak} requests in a row answered without a 5xx`,
        observed: round(w.clientErrorRate()),
        threshold: undefined,
        unit: '%',
        explainedBy: [],
      });
    }

    this.#errorRates(w, ctx);
  }

  /** Checks that walk the histogram, or that must run when no lines arrive (quiet log). */
  evaluate(w: SlidingWindow, ctx: DetectorContext): void {
    if (ctx.activePool !== this.#active) this.#activeChanged(ctx);
    this.#errorRates(w, ctx);
    const key = 'latency:all';
    const open = this.#open.has(key);
    const p95 = w.percentileMs(0.95);
    const t = this.#o.latencyP95ThresholdMs;
    if (!open && p95 !== undefined && w.count >= this.#o.minRequests && p95 > t) {
      const slowPools = (['blue', 'green'] as const).filter((p) => (w.percentileMs(0.95, p) ?? 0) > t);
      const explainedBy = chaosReasons(ctx, slowPools.length ? slowPools : ['blue', 'green']);
      this.#open.add(key);
      this.#emit({
        key,
        kind: 'latency',
        status: 'firing',
        severity: 'warning',
        pool: undefined,
        title: `Latency p95 ${Math.round(p95)} ms is above ${t} ms`,
        summary: `p95 ${Math.round(p95)} ms, p99 ${Math.round(w.percentileMs(0.99) ?? 0)} ms over ${w.count} requests${slowPools.length ? `; slow: ${slowPools.join(', ')}` : ''}`,
        observed: Math.round(p95),
        threshold: t,
        unit: 'ms',
        explainedBy,
      });
    } else if (open && (p95 === undefined || p95 <= t * 0.8)) {
      this.#open.delete(key);
      this.#emit({
        key,
        kind: 'latency',
        status: 'resolved',
        severity: 'warning',
        pool: undefined,
        title: 'Latency back to normal',
        summary: p95 === undefined ? 'no requests in the window' : `p95 ${Math.round(p95)} ms`,
        observed: p95 === undefined ? undefined : Math.round(p95),
        threshold: t,
        unit: 'ms',
        explainedBy: [],
      });
    }
  }

  #errorRates(w: SlidingWindow, ctx: DetectorContext): void {
    const o = this.#o;
    const n = w.count;
    // The common case, nothing open and errors well under the threshold, in a few integer ops.
    const limit = o.errorRateThreshold * n;
    if (
      this.#open.size === 0 &&
      this.#explained.size === 0 &&
      (n < o.minRequests || (w.clientErrors() * 100 < limit && w.blamed('blue') * 100 < limit && w.blamed('green') * 100 < limit))
    )
      return;
    // What clients saw. Chaos or a failover may be the cause, and the alert says so, but an
    // error rate people actually get is never hidden.
    const rate = w.clientErrorRate();
    const key = 'error_rate:all';
    if (!this.#open.has(key)) {
      if (n >= o.minRequests && rate >= o.errorRateThreshold) {
        const reasons = chaosReasons(ctx, ['blue', 'green']);
        for (const p of POOLS) if (this.#open.has(FAILOVER_KEY[p])) reasons.push(`failover from ${p}`);
        this.#open.add(key);
        this.#emit({
          key,
          kind: 'error_rate',
          status: 'firing',
          // Clients get errors: who is hurt decides the severity.
          severity: 'critical',
          pool: undefined,
          title: `Error rate ${fmt(rate)}% is above ${o.errorRateThreshold}%`,
          summary: `${w.clientErrors()} of ${n} requests got a 5xx (blue ${w.clientErrors('blue')}/${w.requests('blue')}, green ${w.clientErrors('green')}/${w.requests('green')}); upstream attempts failing ${fmt(w.upstreamErrorRate())}%`,
          observed: round(rate),
          threshold: o.errorRateThreshold,
          unit: '%',
          explainedBy: reasons,
        });
      }
    } else if (n === 0 || (n >= o.minRequests && rate < o.errorRateClearThreshold)) {
      this.#open.delete(key);
      this.#emit(resolvedRate(key, undefined, rate, o.errorRateClearThreshold, n));
    }

    // Failed attempts per pool, including those a retry hid from the client. A pool under chaos,
    // or one the watcher already reported failing over, explains them: no second alert.
    for (const pool of POOLS) {
      const pk = ERROR_KEY[pool];
      const prate = w.blamedRate(pool);
      if (!this.#open.has(pk)) {
        // Explained errors stay explained until they leave the window: a recovery must not
        // turn the failover's own errors into a fresh alert.
        if (this.#explained.has(pk)) {
          if (n === 0 || prate < o.errorRateClearThreshold) this.#explained.delete(pk);
          continue;
        }
        // A few retried requests are counted (metrics, status), not paged: at least as many failed
        // attempts as a failover needs requests.
        if (n < o.minRequests || prate < o.errorRateThreshold || w.blamed(pool) < o.failoverMinRequests) continue;
        const reasons = chaosReasons(ctx, [pool]);
        if (this.#open.has(FAILOVER_KEY[pool])) reasons.push(`failover from ${pool}`);
        if (reasons.length > 0) {
          this.#explained.add(pk);
          continue;
        }
        this.#open.add(pk);
        this.#emit({
          key: pk,
          kind: 'error_rate',
          status: 'firing',
          severity: 'warning',
          pool,
          title: `Upstream errors on ${pool}: ${fmt(prate)}% of requests`,
          summary: `${fmt(prate)}% of ${n} requests had a failed attempt on ${pool}; clients saw 5xx on ${fmt(rate)}% (nginx retried them on another server: on the other pool, or on another task of the same pool)`,
          observed: round(prate),
          threshold: o.errorRateThreshold,
          unit: '%',
          explainedBy: [],
        });
      } else if (n === 0 || (n >= o.minRequests && prate < o.errorRateClearThreshold)) {
        this.#open.delete(pk);
        this.#emit(resolvedRate(pk, pool, prate, o.errorRateClearThreshold, n));
      }
    }
  }

  /** Per-pool error rates held back because chaos or a failover explains them. */
  explainedKeys(): string[] {
    return [...this.#explained];
  }

  #activeChanged(ctx: DetectorContext): void {
    const before = this.#active;
    this.#active = ctx.activePool;
    this.#backupShare.clear();
    this.#activeStreak = 0;
    if (before === undefined) return;
    // A switch made the backup the active pool: a failover from the old one is no longer a
    // failover, it is the configuration.
    if (this.#open.has(FAILOVER_KEY[before])) {
      this.#closeFailover(
        before,
        `Active pool is now ${ctx.activePool}: failover from ${before} closed`,
        `${ctx.activePool} was made the active pool while it was serving as backup`,
        undefined,
      );
    }
  }

  #fireFailover(active: Pool, w: SlidingWindow, ctx: DetectorContext): void {
    const key = FAILOVER_KEY[active];
    const backup = otherPool(active);
    // The hooks first: if one throws, no condition is left open without its alert.
    const reasons = chaosReasons(ctx, [active]);
    if (ctx.maintenance) reasons.push('maintenance');
    this.#open.add(key);
    const absorbed = w.blamedRate(active);
    this.#emit({
      key,
      kind: 'failover',
      status: 'firing',
      severity: 'warning',
      pool: active,
      title: `Failover: ${backup} (backup) is serving instead of ${active}`,
      summary: `${w.requests(backup)} of ${w.count} recent requests served by ${backup}; ${fmt(absorbed)}% of requests had a failed attempt on ${active}; clients saw 5xx on ${fmt(w.clientErrorRate())}%`,
      observed: round((w.requests(backup) * 100) / Math.max(1, w.count)),
      threshold: undefined,
      unit: '%',
      explainedBy: reasons,
    });
  }

  #resolveFailover(active: Pool, w: SlidingWindow): void {
    this.#closeFailover(
      active,
      `Recovery: ${active} serves again`,
      `${this.#activeStreak} requests in a row served by ${active}`,
      round((w.requests(active) * 100) / Math.max(1, w.count)),
    );
  }

  #closeFailover(pool: Pool, title: string, summary: string, observed: number | undefined): void {
    const key = FAILOVER_KEY[pool];
    this.#open.delete(key);
    this.#emit({
      key,
      kind: 'recovery',
      status: 'resolved',
      severity: 'info',
      pool,
      title,
      summary,
      observed,
      threshold: undefined,
      unit: observed === undefined ? undefined : '%',
      explainedBy: [],
    });
  }
}

function resolvedRate(key: string, pool: Pool | undefined, rate: number, clear: number, n: number): Signal {
  return {
    key,
    kind: 'error_rate',
    status: 'resolved',
    severity: 'warning',
    pool,
    title: pool ? `Upstream errors on ${pool} cleared` : 'Error rate back to normal',
    summary: n === 0 ? 'no requests in the window' : `${fmt(rate)}% over ${n} requests (clears under ${clear}%)`,
    observed: round(rate),
    threshold: clear,
    unit: '%',
    explainedBy: [],
  };
}

function chaosReasons(ctx: DetectorContext, pools: readonly Pool[]): string[] {
  const out: string[] = [];
  for (const p of pools) if (ctx.isChaosOn(p)) out.push(`chaos on ${p}`);
  return out;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function fmt(x: number): string {
  return x >= 10 ? x.toFixed(0) : x.toFixed(1);
}
