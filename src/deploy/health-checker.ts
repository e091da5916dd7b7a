import type { Logger } from '../log.js';
import { otherPool, type Pool } from '../pool.js';
import type { AlertEvent } from '../watcher/alert.js';
import { operationalAlert } from './alerts.js';
import type { Operations } from './operations.js';
import type { PoolClient, PoolProbe } from './pool-client.js';
import type { Actor } from './result.js';

// Auto-demote. Probes both pools' /healthz on an interval; when the active pool fails
// `failAfter` probes in a row while the backup is healthy, makes the backup primary and raises an
// `auto_failover` alert that offers "Switch back". The watcher can call `upstreamTrouble(pool)` the
// moment nginx logs an upstream timeout or 5xx on the active pool: that triggers an immediate probe
// instead of waiting for the next tick.

export interface HealthCheckerOptions {
  ops: Operations;
  pools: PoolClient;
  intervalMs: number;
  timeoutMs: number;
  failAfter: number;
  enabled: boolean;
  envName: string;
  raise: (alert: AlertEvent) => void | Promise<void>;
  log: Logger;
}

export interface HealthSnapshot {
  pool: Pool;
  healthy: boolean | undefined;
  failuresInRow: number;
  last: PoolProbe | undefined;
}

export interface HealthChecker {
  start(): void;
  stop(): Promise<void>;
  /** One round of probes now (the interval calls this too); resolves when a demotion, if any, is done. */
  checkNow(): Promise<void>;
  /** The watcher's hook: nginx saw trouble on `pool`; probe at once. */
  upstreamTrouble(pool: Pool): void;
  snapshot(): HealthSnapshot[];
}

export const AUTO_ACTOR: Actor = { kind: 'auto', id: 'auto-demote', name: 'auto-demote' };

export function createHealthChecker(o: HealthCheckerOptions): HealthChecker {
  const state: Record<Pool, HealthSnapshot> = {
    blue: { pool: 'blue', healthy: undefined, failuresInRow: 0, last: undefined },
    green: { pool: 'green', healthy: undefined, failuresInRow: 0, last: undefined },
  };
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;

  async function probe(pool: Pool): Promise<void> {
    const p = await o.pools.health(pool, o.timeoutMs);
    const s = state[pool];
    s.last = p;
    s.healthy = p.healthy;
    s.failuresInRow = p.healthy ? 0 : s.failuresInRow + 1;
  }

  async function round(): Promise<void> {
    await Promise.all([probe('blue'), probe('green')]);
    if (!o.enabled) return;
    const active = await o.ops.activePool();
    const a = state[active];
    const backup = state[otherPool(active)];
    if (a.failuresInRow < o.failAfter || backup.healthy !== true) return;
    const reason = `${active} failed ${a.failuresInRow} health checks in a row (${a.last?.detail ?? '?'})`;
    const r = await o.ops.switchPool(backup.pool, { force: false, by: AUTO_ACTOR, kind: 'failover', reason });
    if (r.status !== 'ok' || !r.data?.changed) {
      o.log.warn({ result: r }, 'auto-demote did not switch');
      return;
    }
    a.failuresInRow = 0;
    const at = new Date().toISOString();
    await o.raise(
      operationalAlert({
        kind: 'auto_failover',
        status: 'firing',
        severity: 'critical',
        pool: active,
        env: o.envName,
        title: `Auto-demote: ${active} -> ${backup.pool}`,
        summary: `${reason}; ${backup.pool} is healthy and now primary (switch took ${r.data.ms} ms). Switch back when ${active} recovers.`,
        at,
      }),
    );
  }

  // One round at a time; a request during a round schedules exactly one more.
  function checkNow(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await round().catch((err: unknown) => o.log.error({ err }, 'health check round failed'));
        } while (again);
      } finally {
        running = undefined;
      }
    })();
    return running;
  }

  return {
    start() {
      if (timer) return;
      timer = setInterval(() => void checkNow(), o.intervalMs);
      timer.unref();
      void checkNow();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
    checkNow,
    upstreamTrouble(pool) {
      // Count the watcher's evidence as a failed check on top of the probe: a timeout in the log
      // means requests are already waiting on that pool.
      void (async () => {
        if (pool !== (await o.ops.activePool())) return;
        await checkNow();
      })().catch((err: unknown) => o.log.error({ err }, 'upstream trouble check failed'));
    },
    snapshot: () => [state.blue, state.green].map((s) => ({ ...s })),
  };
}
