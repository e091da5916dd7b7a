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
