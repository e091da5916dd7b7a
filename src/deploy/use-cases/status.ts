import { BluegreenError, describeError } from '../../errors.js';
import { POOLS, type Pool } from '../../pool.js';
import type { MaintenanceState } from '../../shared/maintenance-state.js';
import { failed, ok, type OpResult } from '../../shared/op-result.js';
import type { PoolDescription } from '../deploy-engine.js';
import type { LockHolder } from '../state/op-lock.js';
import type { ChaosRecord, SwitchRecord } from '../state/state-store.js';
import type { PoolStats, UseCaseContext } from './context.js';

// `status`: the active pool, each pool's health (probed now), what runs it (the engine's
// description), chaos, the watcher's figures, maintenance, the last switch and failover, the lock.
// A Docker it cannot read still gives an answer: the rest, and the problem named.

export interface PoolStatus {
  pool: Pool;
  active: boolean;
  /** What runs the pool, as its engine describes it; undefined when Docker could not be read. */
  runs: PoolDescription | undefined;
  release: string | undefined;
  healthy: boolean;
  healthDetail: string;
  /** The fault under way: "pause until 2026-…" as recorded, or the demo app's own mode. */
  chaos: string | null | undefined;
  stats: PoolStats | undefined;
}

export interface StatusReport {
  env: string;
  active: Pool;
  pools: PoolStatus[];
  maintenance: MaintenanceState;
  lastSwitch: SwitchRecord | undefined;
  lastFailover: SwitchRecord | undefined;
  previousPool: Pool | undefined;
  lock: LockHolder | undefined;
  docker: { ok: true; project: string } | { ok: false; error: string };
}

export function createStatusUseCase(ctx: UseCaseContext) {
  const { nginx, store, lock, pools, settings } = ctx;

  async function poolStatus(pool: Pool, active: Pool, runs: PoolDescription | undefined, recorded: ChaosRecord | undefined): Promise<PoolStatus> {
    const [probe, said] = await Promise.all([pools.health(pool, settings.healthTimeoutMs), pools.chaos(pool).catch(() => undefined)]);
    // The fault the bot made and until when, else what the demo app says of itself.
    const chaos = recorded ? `${recorded.kind} until ${recorded.until}` : said;
    return {
      pool,
      active: pool === active,
      runs,
      release: runs?.release ?? settings.releaseIds[pool],
      healthy: probe.healthy,
      healthDetail: probe.detail,
      chaos,
      stats: ctx.poolStats?.(pool),
    };
  }

  return {
    async status(): Promise<OpResult<StatusReport>> {
      try {
        const [active, state, holder] = await Promise.all([nginx.activePool(), store.read(), lock.holder()]);
        let docker: StatusReport['docker'];
        let described: Record<Pool, PoolDescription> | undefined;
        try {
          const engine = await ctx.engine();
          described = await engine.describe();
          docker = { ok: true, project: await engine.project() };
        } catch (err) {
          if (!(err instanceof BluegreenError)) throw err;
          docker = { ok: false, error: describeError(err) };
        }
        const poolRows = await Promise.all(POOLS.map((p) => poolStatus(p, active, described?.[p], state.chaos[p])));
        const report: StatusReport = {
          env: settings.envName,
          active,
          pools: poolRows,
          maintenance: state.maintenance,
          lastSwitch: state.lastSwitch,
          lastFailover: state.lastFailover,
          previousPool: state.previousPool,
          lock: holder,
          docker,
        };
        const health = poolRows.map((p) => `${p.pool} ${p.healthy ? 'healthy' : `unhealthy (${p.healthDetail})`}`).join(', ');
        return ok(`active: ${active}; ${health}`, report);
      } catch (err) {
        if (err instanceof BluegreenError) return failed(`status failed: ${err.message}`, err.hint);
        throw err;
      }
    },
  };
}
