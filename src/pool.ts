/** The two pools. Domain words (pool, active, backup) are fixed here and used everywhere. */
export type Pool = 'blue' | 'green';

export const POOLS: readonly Pool[] = ['blue', 'green'];

export function isPool(value: unknown): value is Pool {
  return value === 'blue' || value === 'green';
}

export function otherPool(pool: Pool): Pool {
  return pool === 'blue' ? 'green' : 'blue';
}

/** Compose service name of a pool (shared/SPEC.md). */
export function serviceOf(pool: Pool): `app_${Pool}` {
  return `app_${pool}`;
}

/**
 * The compose service label of deploy's candidate container (the new release started beside a
 * pool's container before it takes the pool's name): written over any label its image carries, so
 * neither compose nor the bot, nor the Docker filter, takes it for a service of the stack.
 */
export const CANDIDATE_SERVICE = 'bluegreen-candidate';
