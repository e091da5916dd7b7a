import type { Actor } from '../shared/actor.js';
import type { StatusReport } from '../deploy/operations.js';
import type { StatusView } from './blocks/status.js';

const who = (a: Actor | undefined): string | undefined => (a === undefined ? undefined : a.kind === 'slack' ? `<@${a.id}>` : `${a.kind}:${a.name ?? a.id}`);

/** deploy's status report as the status message shows it. */
export function statusViewOf(r: StatusReport): StatusView {
  return {
    env: r.env,
    active: r.active,
    pools: r.pools.map((p) => {
      // What runs the pool, in the engine's own description: a container, or a service's tasks.
      const runs = p.runs;
      return {
        pool: p.pool,
        state: runs?.state ?? (r.docker.ok ? 'missing' : `unknown (${r.docker.error})`),
        health: runs?.engineHealth ?? (p.healthy ? 'healthy' : `unhealthy (${p.healthDetail})`),
        release: p.release,
        image: runs?.image,
        errorRatePct: p.stats?.errorRate,
        p95Ms: p.stats?.p95Ms,
        retried5m: p.stats?.retried5m,
        chaos: p.chaos ?? undefined,
        running: runs?.running ?? 0,
        desired: runs?.desired ?? 1,
        perNode: runs?.perNode,
        placementWarning: runs?.placementWarning,
        update: runs?.update,
        updateTrouble: runs?.updateTrouble ?? false,
        notRunning: runs?.notRunning ?? [],
      };
    }),
    maintenance: { on: r.maintenance.on, until: r.maintenance.until, by: who(r.maintenance.by), reason: r.maintenance.reason, page: r.maintenance.page },
    lastSwitch: r.lastSwitch ? { at: r.lastSwitch.at, from: r.lastSwitch.from, to: r.lastSwitch.to, by: who(r.lastSwitch.by) ?? '?' } : undefined,
    lastFailover: r.lastFailover ? { at: r.lastFailover.at, from: r.lastFailover.from, to: r.lastFailover.to } : undefined,
    lock: r.lock ? { holder: who(r.lock.by) ?? '?', operation: r.lock.op, since: r.lock.since } : undefined,
  };
}
