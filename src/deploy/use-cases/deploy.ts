import { otherPool, type Pool } from '../../pool.js';
import type { Actor } from '../../shared/actor.js';
import { refused, type OpResult } from '../../shared/op-result.js';
import type { Progress } from '../../shared/progress.js';
import type { DeployData } from '../deploy-engine.js';
import { quiet, type UseCaseContext } from './context.js';

// `deploy <pool> <image>`: a new release into the idle pool, never the active one. The use case
// checks what holds for every engine (idle pool, nginx's config), the engine runs the release (a
// container replaced, or a service's rolling update: the engine's own file says how), and the
// release is recorded once the engine says it is healthy.

export interface DeployOptions {
  releaseId?: string | undefined;
  by: Actor;
  progress?: Progress;
}

export function createDeployUseCase(ctx: UseCaseContext) {
  const { nginx, store } = ctx;
  return {
    deploy(pool: Pool, image: string, { releaseId, by, progress: say = quiet }: DeployOptions): Promise<OpResult<DeployData>> {
      return ctx.audited('deploy', { pool, image, releaseId }, by, async () => {
        const active = await nginx.activePool();
        if (pool === active) {
          return refused(`${pool} is the active pool; deploy goes to the idle pool (${otherPool(pool)}), then switch`);
        }
        // A config nginx already rejects could not take the new release: check before touching anything.
        await nginx.testConfig();
        say('nginx config test passed');
        const engine = await ctx.engine();
        const env: Record<string, string> = releaseId ? { RELEASE_ID: releaseId } : {};
        const r = await engine.deploy({ pool, image, env, active, say });
        if (r.status === 'ok') {
          await store.update((s) => {
            s.releases[pool] = { image, releaseId: r.data?.release, at: ctx.iso(), by };
          });
          await ctx.publishReleases();
        }
        return r;
      });
    },
  };
}
