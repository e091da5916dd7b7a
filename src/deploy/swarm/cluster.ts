import type { Pool } from '../../pool.js';

// What the bot knows of a Docker Swarm (issue #13): the facts swarm-control.ts reads through the
// Docker API (services, tasks, nodes) and everything else in Swarm mode works from: status, the
// nginx member lists, cluster alerts. Plain data, so the logic on top is tested without a swarm.

export interface ClusterNode {
  id: string;
  hostname: string;
  /** Swarm's node state: ready, down, unknown, disconnected. */
  state: string;
  /** active, pause, drain. */
  availability: string;
  role: 'manager' | 'worker';
  /** The address the node advertises, when Swarm says. */
  addr: string | undefined;
}

export interface PoolTask {
  id: string;
  /** Service name and slot, as `docker service ps` shows it: bluegreen_app_blue.2. */
  name: string;
  slot: number | undefined;
  nodeId: string;
  /** Swarm's task state: new, pending, assigned, preparing, starting, running, complete, failed, shutdown, rejected, orphaned, remove. */
  state: string;
  /** running, shutdown, … : what Swarm wants of the task. */
  desiredState: string;
  /** Swarm's error for a failed or rejected task ("task: non-zero exit (1)", "No such image: …"). */
  error: string | undefined;
  /** The task's address on the stack's network (no prefix length), once it has one. */
  address: string | undefined;
  image: string;
  release: string | undefined;
  /** ISO time of the task's last state change. */
  since: string;
}

/** A service's UpdateStatus: Swarm's own account of a rolling update and its rollback. */
export interface SwarmUpdate {
  /** updating, paused, completed, rollback_started, rollback_paused, rollback_completed. */
  state: string;
  message: string | undefined;
  startedAt: string | undefined;
  completedAt: string | undefined;
}

export interface PoolService {
  pool: Pool;
  /** <STACK_NAME>_app_blue */
  service: string;
  /** Replicas wanted. */
  desired: number;
  /** The image in the service's spec, without a pinned digest. */
  image: string;
  /** RELEASE_ID in the service's spec. */
  release: string | undefined;
  /** Tasks Swarm has not given up on (desired state running), and the newest failures. */
  tasks: PoolTask[];
  update: SwarmUpdate | undefined;
  /**
   * How long a failing health check takes Swarm to call a task unhealthy and replace it: the spec's
   * interval times its retries. Undefined when the spec sets no health check (the image's applies).
   */
  unhealthyAfterMs?: number | undefined;
}

export interface ClusterSnapshot {
  /** ISO time the facts were read. */
  at: string;
  stack: string;
  nodes: ClusterNode[];
  pools: Record<Pool, PoolService>;
}

/** Tasks that serve: running, wanted running, on a node Swarm counts as ready. */
export function servingTasks(snapshot: Pick<ClusterSnapshot, 'nodes'>, service: PoolService): PoolTask[] {
  const ready = new Set(snapshot.nodes.filter((n) => n.state === 'ready').map((n) => n.id));
  return service.tasks.filter((t) => t.state === 'running' && t.desiredState === 'running' && ready.has(t.nodeId) && t.address !== undefined);
}

/** "vm (k3f2a1)": nodes may share a host name (two engines on one machine do), so the id's start goes with it. */
export function nodeLabel(nodes: readonly ClusterNode[], id: string): string {
  const n = nodes.find((x) => x.id === id);
  return n ? `${n.hostname} (${id.slice(0, 6)})` : id.slice(0, 6);
}

/** A pool's tasks in Swarm mode, as status shows them. */
export interface SwarmPoolStatus {
  service: string;
  desired: number;
  running: number;
  /** Serving tasks per node label (nodeLabel). */
  perNode: Record<string, number>;
  image: string;
  release: string | undefined;
  update: SwarmUpdate | undefined;
  /** PoolService.unhealthyAfterMs. */
  unhealthyAfterMs?: number | undefined;
  /** The node label every serving task sits on, when another node could take some (crowdedNode). */
  oneNode?: string | undefined;
  /** Every task Swarm still wants running, and recent failures, one line each. */
  tasks: { name: string; node: string; state: string; error: string | undefined }[];
}

/** Serving tasks per node, by nodeLabel. */
export function tasksPerNode(snapshot: Pick<ClusterSnapshot, 'nodes'>, service: PoolService): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of servingTasks(snapshot, service)) {
    const label = nodeLabel(snapshot.nodes, t.nodeId);
    out[label] = (out[label] ?? 0) + 1;
  }
  return out;
}

export function swarmPoolStatus(snapshot: ClusterSnapshot, pool: Pool): SwarmPoolStatus {
  const svc = snapshot.pools[pool];
  return {
    service: svc.service,
    desired: svc.desired,
    running: servingTasks(snapshot, svc).length,
    perNode: tasksPerNode(snapshot, svc),
    image: svc.image,
    release: svc.release,
    update: svc.update,
    unhealthyAfterMs: svc.unhealthyAfterMs,
    oneNode: ((node) => node && nodeLabel(snapshot.nodes, node))(crowdedNode(snapshot, svc)),
    tasks: svc.tasks.map((t) => ({ name: t.name, node: nodeLabel(snapshot.nodes, t.nodeId), state: t.state, error: t.error })),
  };
}

/** "vm (k3f2a1): 2, vm (9bd0c1): 1", or "none". */
export function describePerNode(perNode: Readonly<Record<string, number>>): string {
  const parts = Object.entries(perNode).map(([node, n]) => `${node}: ${n}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

/**
 * The node all of a pool's serving tasks sit on, when there are two or more of them and another
 * node could take one (ready, availability active): losing that node would empty the pool. Swarm
 * does not spread a rolling update's tasks by itself (moby/moby#34414), nor move tasks back to a
 * node that returns. Undefined when the pool is spread, or cannot be.
 */
export function crowdedNode(snapshot: Pick<ClusterSnapshot, 'nodes'>, service: PoolService): string | undefined {
  const serving = servingTasks(snapshot, service);
  if (serving.length < 2) return undefined;
  const nodes = new Set(serving.map((t) => t.nodeId));
  if (nodes.size !== 1) return undefined;
  const [node] = nodes;
  const elsewhere = snapshot.nodes.some((n) => n.id !== node && n.state === 'ready' && n.availability === 'active');
  return elsewhere ? node : undefined;
}
