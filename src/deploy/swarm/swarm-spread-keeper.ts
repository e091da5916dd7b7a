import type { Logger } from '../../log.js';
import { POOLS, type Pool } from '../../pool.js';
import type { OpResult } from '../../shared/op-result.js';
import { crowdedNode, type ClusterSnapshot } from './cluster.js';

// Keeps each pool spread over the nodes in Swarm mode (issue #17), by itself: a node that returns
// after it was lost gets no task back from Swarm, so a pool stays on the node that kept it. When a
// pool's tasks have sat on one node for `afterMs` (while another node could take some, and no update
// is under way), the keeper runs the `rebalance` operation (swarm-rebalance.ts, audited like any
// other) once the lock is free. A rebalance that fails is not tried again for `retryMs`; the
// cluster watch pages if the pool stays on one node.

export interface SpreadKeeperOptions {
  rebalance: (pool: Pool) => Promise<OpResult<unknown>>;
  /** Another operation holds the lock: try at a later snapshot rather than queue behind it. */
  busy: () => Promise<boolean>;
  afterMs: number;
  retryMs: number;
  log: Logger;
  now?: () => number;
}

/** Update states in which Swarm is still moving the pool's tasks itself. */
const MOVING = new Set(['updating', 'rollback_started']);

export function createSpreadKeeper(o: SpreadKeeperOptions) {
  const now = o.now ?? Date.now;
  const since = new Map<Pool, number>();
  const notBefore = new Map<Pool, number>();
  let running: Promise<void> | undefined;

  async function spread(pool: Pool): Promise<void> {
    if (await o.busy()) return;
    const r = await o.rebalance(pool);
    if (r.status === 'ok') since.delete(pool);
    else {
      notBefore.set(pool, now() + o.retryMs);
      o.log.warn({ pool, result: r }, 'spreading the pool over the nodes did not work');
    }
  }

  return {
    observe(snapshot: ClusterSnapshot): void {
      const t = now();
      for (const pool of POOLS) {
        const svc = snapshot.pools[pool];
        if (!crowdedNode(snapshot, svc) || MOVING.has(svc.update?.state ?? '')) {
          since.delete(pool);
          continue;
        }
        const from = since.get(pool) ?? t;
        since.set(pool, from);
        if (running || t - from < o.afterMs || t < (notBefore.get(pool) ?? 0)) continue;
        running = spread(pool)
          .catch((err: unknown) => o.log.error({ err, pool }, 'spreading the pool failed'))
          .finally(() => (running = undefined));
      }
    },
    /** Resolves when a rebalance under way (if any) is done. */
    idle: () => running ?? Promise.resolve(),
  };
}
