import { POOLS, type Pool } from '../../pool.js';
import type { ClusterSnapshot, PoolTask } from './cluster.js';
import type { ProbeOutcome } from '../pools/probe-http.js';

// Which of a pool's tasks nginx may send traffic to, in Swarm mode (issue #17). Swarm's own view
// lags: a node whose network vanished is marked down 14-19 s later (measured here), and until then
// its tasks are "running" while every connection to them times out. So the bot probes each task
// itself, about twice a second, and decides:
//   - a task joins once it answered its health check (a new task is ready, not just started);
//   - a member leaves when it could not be reached UNREACHABLE_AFTER times in a row (no connection:
//     refused, no route, no handshake in time), or when Swarm no longer runs it;
//   - a member that answers, even slowly or with an error, stays: nginx's own per-request failover
//     deals with a bad answer, and a busy host must not empty a pool;
//   - when no task of either pool can be reached at all, nothing changes: the fault is more likely
//     the bot's own view (its network, its CPU) than every task at once, and nginx keeps failing over
//     per request as before.
// Pure: the prober and the sync loop feed it; the tests drive it with plain data.

/** Probes in a row without a connection that take a member out (about a second at 2 probes/s). */
export const UNREACHABLE_AFTER = 2;

/** What the bot has seen of one task so far. */
export interface TaskSeen {
  last: ProbeOutcome;
  /** Probes in a row that got no connection. */
  unreachableInRow: number;
  /** It has answered its health check at least once. */
  ready: boolean;
}

export interface MemberDecision {
  /** `address:port` per pool, sorted. */
  members: Record<Pool, string[]>;
  /** Nothing of either pool could be reached: keep what nginx has. */
  keep: boolean;
  /**
   * nginx has no members from the bot yet (it serves the pools' names) and some task is not probed
   * yet: wait, rather than give nginx a list that leaves out tasks that may well serve.
   */
  pending: boolean;
  /** Tasks left out because they could not be reached (not because Swarm stopped them), by pool. */
  unreachable: Record<Pool, string[]>;
}

/** Tasks Swarm runs for the pool on a node it counts as ready, with an address: what may serve. */
export function candidates(snapshot: ClusterSnapshot, pool: Pool): PoolTask[] {
  const ready = new Set(snapshot.nodes.filter((n) => n.state === 'ready').map((n) => n.id));
  return snapshot.pools[pool].tasks.filter((t) => t.state === 'running' && t.desiredState === 'running' && ready.has(t.nodeId) && t.address !== undefined);
}

/**
 * The members nginx should have, given the snapshot, what the probes saw (by task address) and what
 * nginx has now (`applied`, `address:port`; undefined when the bot has not given it any yet: then
 * every task that answered at all joins, as nginx serves the pools' names until the first apply).
 */
export function decideMembers(
  snapshot: ClusterSnapshot,
  seen: ReadonlyMap<string, TaskSeen>,
  applied: Readonly<Record<Pool, readonly string[]>> | undefined,
  appPort: number,
): MemberDecision {
  const members = { blue: [], green: [] } as Record<Pool, string[]>;
  const unreachable = { blue: [], green: [] } as Record<Pool, string[]>;
  let anyReached = false;
  let anyProbed = false;
  let pending = false;
  for (const pool of POOLS) {
    const now = new Set(applied?.[pool] ?? []);
    for (const task of candidates(snapshot, pool)) {
      const member = `${task.address}:${appPort}`;
      const s = seen.get(task.address!);
      if (!s) {
        // Not probed yet: a member stays until the probes say otherwise; a new task waits.
        if (now.has(member)) members[pool].push(member);
        if (applied === undefined) pending = true;
        continue;
      }
      anyProbed = true;
      if (s.last !== 'unreachable') anyReached = true;
      const gone = s.unreachableInRow >= UNREACHABLE_AFTER;
      if (gone) unreachable[pool].push(member);
      const joins = applied === undefined ? s.last !== 'unreachable' : s.ready;
      if (!gone && (now.has(member) || joins)) members[pool].push(member);
    }
    members[pool].sort();
  }
  return { members, keep: anyProbed && !anyReached, pending, unreachable };
}

/** Folds one probe of a task into what was seen of it. */
export function see(prev: TaskSeen | undefined, outcome: ProbeOutcome): TaskSeen {
  return {
    last: outcome,
    unreachableInRow: outcome === 'unreachable' ? (prev?.unreachableInRow ?? 0) + 1 : 0,
    ready: (prev?.ready ?? false) || outcome === 'healthy',
  };
}
