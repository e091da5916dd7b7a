import { otherPool, type Pool } from '../../pool.js';
import type { Actor } from '../../shared/actor.js';
import { refused, type OpResult } from '../../shared/op-result.js';
import type { Progress } from '../../shared/progress.js';
import type { ScaleData } from '../deploy-engine.js';
import { quiet, type UseCaseContext } from './context.js';

// `scale <pool> <n>`, and `rebalance` (a pool whose units all sit on one node gets one moved; the
// engine's spread keeper asks for it). An engine that runs one container a pool refuses both and
// says why.

export function createScaleUseCases(ctx: UseCaseContext) {
  const { nginx } = ctx;
  return {
    /** Sets the pool's units and waits until they run. */
    scale(pool: Pool, replicas: number, { force, by, progress: say = quiet }: { force: boolean; by: Actor; progress?: Progress }): Promise<OpResult<ScaleData>> {
      return ctx.audited('scale', { pool, replicas, force }, by, async () => {
        const engine = await ctx.engine();
        const active = await nginx.activePool();
        if (replicas === 0 && pool === active && !force) {
          return refused(`${pool} is the active pool: with 0 tasks every request would go to the backup ${otherPool(pool)}. Switch first, or add --force`);
        }
        return engine.scale(pool, replicas, say);
      });
    },

    /** When the pool's units all sit on one node, moves one to another node. */
    rebalance(pool: Pool, { by, progress: say = quiet }: { by: Actor; progress?: Progress }): Promise<OpResult<{ moved: boolean }>> {
      return ctx.audited('rebalance', { pool }, by, async () => {
        const engine = await ctx.engine();
        return engine.rebalance(pool, say);
      });
    },
  };
}
