import type { Pool } from '../../pool.js';
import type { Progress } from '../../shared/progress.js';
import { crowdedNode, nodeLabel, servingTasks, type ClusterSnapshot, type PoolTask } from './cluster.js';
import type { SwarmControl } from './swarm-control.js';

// Spreading a pool whose serving tasks all sit on one node (issue #17): Swarm places a rolling
// update's new tasks beside the old ones (moby/moby#34414) and never moves tasks back to a node that
// returns, so after a deploy, a scale or a lost node a pool can live on one node, and losing that
// node empties it. The fix uses only what Swarm does by itself:
//   1. one more replica: Swarm's scheduler puts it on the node with the fewest tasks of the service;
//   2. once nginx sends traffic to it (it passed its health check and joined the members),
//   3. one replica less: Swarm removes a copy from the node with the most copies of the service
//      (swarmkit's replicated orchestrator, "remove tasks on the nodes that have the most copies").
// The pool never has fewer tasks than it had; the removed task is stopped the way Swarm stops any
// task (SIGTERM, then nginx retries a request it had in flight on another member).

export interface RebalanceOptions {
  control: SwarmControl;
  /** nginx sends traffic to this task (the sync loop gave it to nginx as a member). */
  serves: (task: PoolTask) => Promise<boolean>;
  timeoutMs: number;
  pollMs?: number;
  say: Progress;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export type RebalanceOutcome =
  /** Nothing to do: spread already, fewer than two tasks, or no other node to go to. */
  | { kind: 'spread'; snapshot: ClusterSnapshot }
  | { kind: 'moved'; from: string; to: string; task: string; snapshot: ClusterSnapshot }
  /** Swarm put the extra task on the same node (constraints), or it did not serve in time: back to as it was. */
  | { kind: 'failed'; why: string; snapshot: ClusterSnapshot };

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function rebalance(pool: Pool, o: RebalanceOptions): Promise<RebalanceOutcome> {
  const sleep = o.sleep ?? realSleep;
  const now = o.now ?? Date.now;
  const first = await o.control.snapshot();
  const crowded = crowdedNode(first, first.pools[pool]);
  if (!crowded) return { kind: 'spread', snapshot: first };
  const svc = first.pools[pool];
  const n = svc.desired;
  const label = nodeLabel(first.nodes, crowded);
  const known = new Set(svc.tasks.map((t) => t.id));
  o.say(`${pool}: all ${n} serving tasks run on ${label}; adding one on another node, then removing one from ${label}`);
  await o.control.scale(pool, n + 1);
  const deadline = now() + o.timeoutMs;
  let snap = first;
  let added: PoolTask | undefined;
  for (;;) {
    await sleep(o.pollMs ?? 1000);
    snap = await o.control.snapshot();
    added = servingTasks(snap, snap.pools[pool]).find((t) => !known.has(t.id));
    if (added && added.nodeId !== crowded && (await o.serves(added))) break;
    const why = added?.nodeId === crowded ? `Swarm placed the extra task on ${label} too (placement constraints?)` : now() >= deadline ? `the extra task did not serve within ${Math.round(o.timeoutMs / 1000)} s` : undefined;
    if (why) {
      await o.control.scale(pool, n);
      return { kind: 'failed', why, snapshot: await o.control.snapshot() };
    }
  }
  const to = nodeLabel(snap.nodes, added.nodeId);
  o.say(`${added.name} serves on ${to}; back to ${n} replicas (Swarm removes one from ${label})`);
  await o.control.scale(pool, n);
  for (;;) {
    await sleep(o.pollMs ?? 1000);
    snap = await o.control.snapshot();
    const wanted = snap.pools[pool].tasks.filter((t) => t.desiredState === 'running').length;
    if (wanted <= n || now() >= deadline) break;
  }
  return { kind: 'moved', from: label, to, task: added.name, snapshot: snap };
}
