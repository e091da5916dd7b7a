import type { ClusterNode, ClusterSnapshot, PoolService, PoolTask, SwarmUpdate } from '../../../../src/deploy/swarm/cluster.js';
import type { SwarmControl } from '../../../../src/deploy/swarm/swarm-control.js';
import type { Pool } from '../../../../src/pool.js';

// A swarm in memory behind the SwarmControl interface: one mutable ClusterSnapshot, and Swarm moving
// on between two reads as a queue of steps (one applied per snapshot() call). update() and scale()
// change the service's spec at once, as Docker does, and queue what the test says Swarm does next.

export const STACK = 'bg';
export const MANAGER = 'mgr0a1b2c3d4e5f6';
export const WORKER = 'wrk9f8e7d6c5b4a3';
export const IMAGE = 'bluegreen-demo-app:local';

/** A change Swarm makes between two reads. */
export type SwarmStep = (s: ClusterSnapshot) => void;

export function swarmNode(id: string, over: Partial<ClusterNode> = {}): ClusterNode {
  return { id, hostname: id === MANAGER ? 'mgr' : 'wrk', state: 'ready', availability: 'active', role: id === MANAGER ? 'manager' : 'worker', addr: undefined, ...over };
}

let seq = 0;
/** A running task of `pool` in `slot`, on the manager for odd slots and the worker for even ones. */
export function poolTask(pool: Pool, slot: number, over: Partial<PoolTask> = {}): PoolTask {
  return {
    id: `${pool}${slot}task${++seq}`,
    name: `${STACK}_app_${pool}.${slot}`,
    slot,
    nodeId: slot % 2 === 1 ? MANAGER : WORKER,
    state: 'running',
    desiredState: 'running',
    error: undefined,
    address: `10.0.${pool === 'blue' ? 1 : 2}.${10 + slot}`,
    image: IMAGE,
    release: `${pool}-v1`,
    since: new Date(Date.UTC(2025, 0, 1, 0, 0, seq)).toISOString(),
    ...over,
  };
}

export function poolService(pool: Pool, replicas: number, over: Partial<PoolService> = {}): PoolService {
  return {
    pool,
    service: `${STACK}_app_${pool}`,
    desired: replicas,
    image: IMAGE,
    release: `${pool}-v1`,
    tasks: Array.from({ length: replicas }, (_, i) => poolTask(pool, i + 1)),
    update: undefined,
    ...over,
  };
}

export function clusterSnapshot(replicas: Record<Pool, number> = { blue: 2, green: 2 }): ClusterSnapshot {
  return {
    at: '2025-01-01T00:00:00.000Z',
    stack: STACK,
    nodes: [swarmNode(MANAGER), swarmNode(WORKER)],
    pools: { blue: poolService('blue', replicas.blue), green: poolService('green', replicas.green) },
  };
}

/** Steps: Swarm's UpdateStatus moves to `state`. */
export const updateState =
  (pool: Pool, state: string, startedAt: string, message?: string): SwarmStep =>
  (s) => {
    s.pools[pool].update = { state, message, startedAt, completedAt: state.endsWith('completed') ? startedAt : undefined };
  };

/** Step: every task of `pool` replaced by a running one of the service's current image and release. */
export const replaceTasks =
  (pool: Pool): SwarmStep =>
  (s) => {
    const svc = s.pools[pool];
    svc.tasks = Array.from({ length: svc.desired }, (_, i) => poolTask(pool, i + 1, { image: svc.image, release: svc.release }));
  };

/** Step: `n` running tasks of `pool` (slots 1..n, the ones there kept). */
export const runTasks =
  (pool: Pool, n: number): SwarmStep =>
  (s) => {
    const svc = s.pools[pool];
    const kept = svc.tasks.filter((t) => (t.slot ?? 0) <= n && t.desiredState === 'running');
    for (let slot = 1; slot <= n; slot++) if (!kept.some((t) => t.slot === slot)) kept.push(poolTask(pool, slot, { image: svc.image, release: svc.release }));
    svc.tasks = kept;
  };

export class FakeSwarm implements SwarmControl {
  readonly stack: string;
  state: ClusterSnapshot;
  /** Swarm moving on: each snapshot() applies the next step, if any, before it answers. */
  steps: SwarmStep[] = [];
  /** What Swarm does after an update was asked for (default: nothing, the status stays as it was). */
  onUpdate: ((pool: Pool, image: string, env: Readonly<Record<string, string>>) => SwarmStep[]) | undefined;
  /** What Swarm does after a scale (default: the tasks run at once). */
  onScale: (pool: Pool, replicas: number) => SwarmStep[] = (pool, replicas) => [runTasks(pool, replicas)];
  /** When set, snapshot() rejects with it (a manager that does not answer). */
  down: Error | undefined;
  /** When set, snapshot() waits for it first (a slow read). */
  gate: Promise<void> | undefined;
  calls: string[] = [];
  snapshots = 0;
  nginxContainer: string | undefined = 'nginx-task-container';

  constructor(state: ClusterSnapshot = clusterSnapshot(), stack = STACK) {
    this.state = state;
    this.stack = stack;
  }

  async snapshot(): Promise<ClusterSnapshot> {
    this.snapshots++;
    if (this.gate) await this.gate;
    if (this.down) throw this.down;
    this.steps.shift()?.(this.state);
    // A copy, as a new read is: what a caller holds does not change under it.
    return structuredClone(this.state);
  }

  async update(pool: Pool, image: string, env: Readonly<Record<string, string>>): Promise<SwarmUpdate | undefined> {
    this.calls.push(`update ${pool} ${image} ${JSON.stringify(env)}`);
    const svc = this.state.pools[pool];
    const before = structuredClone(svc.update);
    svc.image = image;
    if (env.RELEASE_ID !== undefined) svc.release = env.RELEASE_ID;
    this.steps.push(...(this.onUpdate?.(pool, image, env) ?? []));
    return before;
  }

  async scale(pool: Pool, replicas: number): Promise<number> {
    this.calls.push(`scale ${pool} ${replicas}`);
    const svc = this.state.pools[pool];
    const previous = svc.desired;
    svc.desired = replicas;
    this.steps.push(...this.onScale(pool, replicas));
    return previous;
  }

  async rollback(pool: Pool): Promise<SwarmUpdate | undefined> {
    this.calls.push(`rollback ${pool}`);
    const before = structuredClone(this.state.pools[pool].update);
    this.steps.push(...(this.onRollback?.(pool) ?? []));
    return before;
  }

  /** What Swarm does after a rollback was asked for (default: nothing). */
  onRollback: ((pool: Pool) => SwarmStep[]) | undefined;

  async localContainer(service: string): Promise<string | undefined> {
    this.calls.push(`localContainer ${service}`);
    return service === 'nginx' ? this.nginxContainer : undefined;
  }
  /** Containers of each service on this node, by service name (app_blue). */
  local: Record<string, string[]> = {};
  async localContainers(service: string): Promise<string[]> {
    this.calls.push(`localContainers ${service}`);
    return this.local[service] ?? [];
  }
}
