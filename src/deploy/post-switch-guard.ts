import type { Logger } from '../log.js';
import type { Pool } from '../pool.js';
import type { AlertEvent } from '../watcher/alert.js';
import { operationalAlert } from './alerts.js';
import type { Operations, PoolStats } from './operations.js';
import type { Actor } from './result.js';
import type { SwitchRecord } from './state-store.js';

// Post-switch guard: for a while after a switch, watch the new pool's error rate (the watcher's
// numbers). Above the threshold: roll back by itself when AUTO_ROLLBACK=true, else raise a
// `post_switch_guard` alert that offers "Roll back". One trip per switch.

export interface PostSwitchGuardOptions {
  ops: Operations;
  poolStats: (pool: Pool) => PoolStats | undefined;
  guardMs: number;
  thresholdPercent: number;
  autoRollback: boolean;
  checkEveryMs?: number;
  envName: string;
  raise: (alert: AlertEvent) => void | Promise<void>;
  log: Logger;
  now?: () => number;
}

export interface PostSwitchGuard {
  /** Give it every switch; it guards switches and rollbacks made by people. */
  onSwitched(record: SwitchRecord): void;
  /** One check now (the timer calls this). */
  check(): Promise<void>;
  watching(): { pool: Pool; until: number } | undefined;
  stop(): void;
}

export const GUARD_ACTOR: Actor = { kind: 'auto', id: 'post-switch-guard', name: 'post-switch guard' };

export function createPostSwitchGuard(o: PostSwitchGuardOptions): PostSwitchGuard {
  const now = o.now ?? Date.now;
  let current: { pool: Pool; from: Pool; until: number; record: SwitchRecord } | undefined;
  let timer: NodeJS.Timeout | undefined;

  const stop = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
    current = undefined;
  };

  async function check(): Promise<void> {
    const g = current;
    if (!g) return;
    if (now() > g.until) return stop();
    const stats = o.poolStats(g.pool);
    if (stats?.errorRate === undefined || stats.errorRate <= o.thresholdPercent) return;
    stop();
    const observed = Math.round(stats.errorRate * 100) / 100;
    const base = `${g.pool} has ${observed}% errors (threshold ${o.thresholdPercent}%) within ${Math.round(o.guardMs / 1000)} s of the switch from ${g.from}`;
    let summary: string;
    if (o.autoRollback) {
      const r = await o.ops.rollback(GUARD_ACTOR, { kind: 'guard_rollback', reason: base });
      summary = r.status === 'ok' ? `${base}; rolled back automatically: ${r.message}` : `${base}; automatic rollback did not happen: ${r.status === 'refused' ? r.reason : r.message}`;
    } else {
      summary = `${base}. Roll back to ${g.from}?`;
    }
    await o.raise(
      operationalAlert({
        kind: 'post_switch_guard',
        status: 'firing',
        severity: 'critical',
        pool: g.pool,
        env: o.envName,
        title: `Post-switch guard: ${g.pool} is failing after the switch`,
        summary,
        observed,
        threshold: o.thresholdPercent,
        unit: '%',
        at: new Date(now()).toISOString(),
        firstAt: g.record.at,
      }),
    );
  }

  return {
    onSwitched(record) {
      // Failovers and the guard's own rollback are not people's choices to second-guess.
      if (record.kind === 'failover' || record.kind === 'guard_rollback' || o.guardMs <= 0) return stop();
      stop();
      current = { pool: record.to, from: record.from, until: now() + o.guardMs, record };
      timer = setInterval(() => void check().catch((err: unknown) => o.log.error({ err }, 'post-switch guard check failed')), o.checkEveryMs ?? 1000);
      timer.unref();
    },
    check,
    watching: () => (current ? { pool: current.pool, until: current.until } : undefined),
    stop,
  };
}
