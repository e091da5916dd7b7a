import { otherPool, type Pool } from '../../pool.js';
import type { Actor } from '../../shared/actor.js';
import { ok, refused, type OpResult } from '../../shared/op-result.js';
import type { ChaosMode } from '../pools/pool-client.js';
import type { UseCaseContext } from './context.js';

// `chaos start|stop <pool>`: faults on every target of a pool (the pools' admin listener). Refused
// on the active pool while its backup is unhealthy: that would be an outage, not a drill.

export function createChaosUseCases(ctx: UseCaseContext) {
  const { nginx, pools } = ctx;
  return {
    startChaos(pool: Pool, mode: ChaosMode, { force, by }: { force: boolean; by: Actor }): Promise<OpResult> {
      return ctx.audited('chaos_start', { pool, mode, force }, by, async () => {
        const active = await nginx.activePool();
        if (pool === active && !force) {
          const backup = await ctx.gateProbe(otherPool(pool));
          if (!backup.healthy) {
            return refused(`${pool} is active and the backup ${otherPool(pool)} is unhealthy (${backup.detail}): chaos would be an outage. Add --force to start it anyway`);
          }
        }
        await pools.startChaos(pool, mode);
        return ok(`Chaos (${mode}) started on ${pool}${pool === active ? ' (the active pool)' : ''}`);
      });
    },

    stopChaos(pool: Pool, by: Actor): Promise<OpResult> {
      return ctx.audited('chaos_stop', { pool }, by, async () => {
        await pools.stopChaos(pool);
        return ok(`Chaos stopped on ${pool}`);
      });
    },
  };
}
