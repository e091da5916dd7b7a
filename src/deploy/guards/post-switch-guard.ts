import type { Logger } from '../../log.js';
import { otherPool, type Pool } from '../../pool.js';
import type { AlertEvent } from '../../shared/alert.js';
import { operationalAlert } from '../../shared/alert.js';
import type { Operations, PoolStats } from '../operations.js';
import type { Actor } from '../../shared/actor.js';
import type { SwitchRecord } from '../state/state-store.js';

// Post-switch guard: for POST_SWITCH_GUARD_SEC after a switch, rollback or auto-demote, whoever made
// it (this process, the CLI, the bot itself), watch the new active pool's upstream attempts as nginx
// logged them. Client statuses hide the problem: nginx retries a failed attempt on the old pool, the
// client gets its 200, and max_fails benches the failing pool so it soon gets no attempts at all.
// So the guard judges, since the switch: attempts to the pool that failed, requests nginx sent
// straight to the backup (the pool benched), and latency against the old pool's baseline. When it
// trips: roll back by itself with AUTO_ROLLBACK=true, else raise a `post_switch_guard` alert that
// offers "Roll back". One trip per switch.

/** A pool's upstream attempts as the watcher counted them since it started (cumulative). */
export interface AttemptCounts {
  /** Requests the pool answered (not 5xx). */
  served: number;
  /** Attempts on the pool that failed: 5xx, timeout, no connection (retried or not). */
  failed: number;
  /** Requests nginx sent straight to the other pool while this one was active: benched or down. */
  benched: number;
  /** Client 5xx, any pool: whether people see errors. */
  clientErrors: number;
}

export interface PostSwitchGuardOptions {
  ops: Operations;
  attempts: (pool: Pool) => AttemptCounts | undefined;
  poolStats: (pool: Pool) => PoolStats | undefined;
  guardMs: number;
  /** Percent of failed attempts on the new pool that trips the guard (ERROR_RATE_THRESHOLD). */
  thresholdPercent: number;
  /** Least failed attempts before a percentage is judged [3]. */
  minFailures?: number;
  /** Requests sent straight to the old pool, and their least share, that count as "benched" [5, 20]. */
  minBenched?: number;
  benchedSharePercent?: number;
  /** Least requests the new pool answered before its latency is compared with the old pool's [50]. */
  minLatencySamples?: number;
  autoRollback: boolean;
  /**
   * Counting starts this long after the switch [2000]: requests nginx had already sent to the old
   * pool finish there, and would look like the new pool being benched.
   */
  graceMs?: number;
  checkEveryMs?: number;
  envName: string;
  raise: (alert: AlertEvent) => void | Promise<void>;
  log: Logger;
  now?: () => number;
}

export interface GuardWatch {
  pool: Pool;
  from: Pool;
  until: number;
  record: SwitchRecord;
}

export interface PostSwitchGuard {
  /** Give it every switch (the same record twice is one); it guards all but its own rollbacks. */
  onSwitched(record: SwitchRecord): void;
  /** One check now (the timer calls this). */
  check(): Promise<void>;
  watching(): GuardWatch | undefined;
  stop(): void;
}

export const GUARD_ACTOR: Actor = { kind: 'auto', id: 'post-switch-guard', name: 'post-switch guard' };

interface Watch extends GuardWatch {
  countFrom: number;
  /** Counts when counting started; undefined during the grace period. */
  base: AttemptCounts | undefined;
  baselineP95Ms: number | undefined;
}

export function createPostSwitchGuard(o: PostSwitchGuardOptions): PostSwitchGuard {
  const now = o.now ?? Date.now;
  const minFailures = o.minFailures ?? 3;
  const minBenched = o.minBenched ?? 5;
  const benchedShare = o.benchedSharePercent ?? 20;
  const minLatencySamples = o.minLatencySamples ?? 50;
  let current: Watch | undefined;
  let lastRecord: string | undefined;
  /** The guard incident left open for people to act on; the next switch of any kind resolves it. */
  let tripped: { pool: Pool; from: Pool; firstAt: string; occurrence: number } | undefined;
  let timer: NodeJS.Timeout | undefined;

  const stop = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
    current = undefined;
  };

  /** What is wrong with the pool since the switch, in words; undefined while it looks fine. */
  function verdict(g: Watch): { summary: string; clientErrors: number; observed: number; threshold: number; unit: '%' | 'ms' } | undefined {
    const c = o.attempts(g.pool);
    if (!c || !g.base) return undefined;
    const failed = c.failed - g.base.failed;
    const served = c.served - g.base.served;
    const benched = c.benched - g.base.benched;
    const clientErrors = c.clientErrors - g.base.clientErrors;
    const attempts = failed + served;
    const hidden = clientErrors > 0 ? `clients saw ${clientErrors} errors` : `nginx retried them on ${g.from}, so clients saw no error`;
    if (failed >= minFailures && failed * 100 >= o.thresholdPercent * attempts) {
      const pct = Math.round((failed * 1000) / attempts) / 10;
      return { summary: `${g.pool} failed ${failed} of ${attempts} attempts (${pct}%) since the switch; ${hidden}`, clientErrors, observed: pct, threshold: o.thresholdPercent, unit: '%' };
    }
    const total = attempts + benched;
    if (benched >= minBenched && benched * 100 >= benchedShare * total) {
      const pct = Math.round((benched * 1000) / total) / 10;
      return {
        summary: `nginx sent ${benched} of ${total} requests (${pct}%) straight to ${g.from}: it benched ${g.pool} after ${failed} failed attempts since the switch`,
        clientErrors,
        observed: pct,
        threshold: benchedShare,
        unit: '%',
      };
    }
    const stats = o.poolStats(g.pool);
    const base = g.baselineP95Ms;
    if (base !== undefined && stats?.p95Ms !== undefined && served >= minLatencySamples && stats.p95Ms > Math.max(2 * base, base + 250)) {
      return {
        summary: `${g.pool} answers in ${Math.round(stats.p95Ms)} ms at p95, against ${Math.round(base)} ms on ${g.from} before the switch`,
        clientErrors,
        observed: Math.round(stats.p95Ms),
        threshold: Math.round(Math.max(2 * base, base + 250)),
        unit: 'ms',
      };
    }
    return undefined;
  }

  async function check(): Promise<void> {
    const g = current;
    if (!g) return;
    if (now() > g.until) return stop();
    if (!g.base) {
      if (now() >= g.countFrom) g.base = o.attempts(g.pool) ?? { served: 0, failed: 0, benched: 0, clientErrors: 0 };
      return;
    }
    const v = verdict(g);
    if (!v) return;
    stop();
    const since = Math.round((now() - Date.parse(g.record.at)) / 1000);
    const base = `${v.summary} (${since} s after ${g.record.kind === 'failover' ? 'the auto-demote' : `the ${g.record.kind}`} from ${g.from})`;
    let summary: string;
    let healed = false;
    if (o.autoRollback) {
      const r = await o.ops.rollback(GUARD_ACTOR, { kind: 'guard_rollback', reason: base });
      healed = r.status === 'ok';
      summary = healed ? `${base}. Rolled back by itself (AUTO_ROLLBACK): ${r.status === 'ok' ? r.message : ''}` : `${base}. Automatic rollback did not happen: ${r.status === 'refused' ? r.reason : r.status === 'failed' ? r.message : ''}`;
    } else {
      summary = `${base}. Roll back to ${g.from}?`;
      tripped = { pool: g.pool, from: g.from, firstAt: g.record.at, occurrence: Date.parse(g.record.at) };
    }
    await o.raise(
      operationalAlert({
        kind: 'post_switch_guard',
        // A rollback the bot made itself is a notice: nothing is left open.
        status: healed ? 'resolved' : 'firing',
        // Who is hurt: clients getting errors is critical; hidden failures reduce protection; a
        // rollback the bot made itself healed it.
        severity: v.clientErrors > 0 && !healed ? 'critical' : healed ? 'info' : 'warning',
        pool: g.pool,
        env: o.envName,
        title: healed ? `Rolled back: ${g.pool} was failing after the switch` : `Post-switch guard: ${g.pool} is failing after the switch`,
        summary,
        observed: v.observed,
        threshold: v.threshold,
        unit: v.unit,
        at: new Date(now()).toISOString(),
        firstAt: g.record.at,
        occurrence: Date.parse(g.record.at),
      }),
    );
  }

  return {
    onSwitched(record) {
      const id = `${record.at}|${record.kind}|${record.to}`;
      if (id === lastRecord) return;
      lastRecord = id;
      if (tripped) {
        const t = tripped;
        tripped = undefined;
        const what = record.to === t.from ? `Rolled back to ${t.from}` : `Traffic moved ${record.from} -> ${record.to}`;
        void Promise.resolve(
          o.raise(
            operationalAlert({
              kind: 'post_switch_guard',
              status: 'resolved',
              severity: 'info',
              pool: t.pool,
              env: o.envName,
              title: `${what} (${record.kind.replace('_', ' ')} by ${record.by.name ?? record.by.id})`,
              summary: `${what}: ${record.kind} by ${record.by.name ?? record.by.id} at ${record.at}`,
              at: new Date(now()).toISOString(),
              firstAt: t.firstAt,
              occurrence: t.occurrence,
            }),
          ),
        ).catch((err: unknown) => o.log.error({ err }, 'post-switch guard resolution failed'));
      }
      // The guard's own rollback is not second-guessed (no ping-pong).
      if (record.kind === 'guard_rollback' || o.guardMs <= 0) return stop();
      const until = Date.parse(record.at) + o.guardMs;
      stop();
      if (!(until > now())) return;
      current = {
        pool: record.to,
        from: record.from,
        until,
        record,
        countFrom: Date.parse(record.at) + (o.graceMs ?? 2000),
        base: undefined,
        baselineP95Ms: o.poolStats(otherPool(record.to))?.p95Ms,
      };
      o.log.info({ pool: record.to, from: record.from, kind: record.kind, untilMs: until - now() }, 'post-switch guard watching');
      timer = setInterval(() => void check().catch((err: unknown) => o.log.error({ err }, 'post-switch guard check failed')), o.checkEveryMs ?? 1000);
      timer.unref();
    },
    check,
    watching: () => (current ? { pool: current.pool, from: current.from, until: current.until, record: current.record } : undefined),
    stop,
  };
}
