import type Docker from 'dockerode';
import { BluegreenError } from '../../errors.js';
import { POOLS, serviceOf, type Pool } from '../../pool.js';
import type { ClusterNode, ClusterSnapshot, PoolService, PoolTask, SwarmUpdate } from './cluster.js';
import { envRecord, lazyDockerClient, toDockerError, withTimeout } from '../docker/docker-client.js';

// Swarm mode (issue #13): the stack's services, tasks and nodes through the Docker API of a manager
// (dockerode). Reads a whole ClusterSnapshot at once (three list calls), and changes a pool's
// service: a rolling update to another image, or another number of replicas. Everything built on
// these facts (status, nginx members, cluster alerts, following an update) lives elsewhere.

export interface SwarmControl {
  readonly stack: string;
  snapshot(): Promise<ClusterSnapshot>;
  /**
   * Starts a rolling update of the pool's service to `image` (and `env` over its spec's), forced so
   * that a re-deploy of the same tag still replaces every task. Resolves with the UpdateStatus it
   * saw before, so the caller can tell this update's status from an earlier one's.
   */
  update(pool: Pool, image: string, env: Readonly<Record<string, string>>): Promise<SwarmUpdate | undefined>;
  /** Sets the pool's replicas; resolves with the number it had. */
  scale(pool: Pool, replicas: number): Promise<number>;
  /**
   * Asks Swarm to roll the pool's service back to its previous spec (`docker service rollback`):
   * the bot's own health gate failed a deploy. Resolves with the UpdateStatus seen before.
   */
  rollback(pool: Pool): Promise<SwarmUpdate | undefined>;
  /** The running container of a service of the stack on this engine's node (nginx is placed here). */
  localContainer(service: string): Promise<string | undefined>;
  /** Every running or paused container of a service of the stack on this engine's node. */
  localContainers(service: string): Promise<string[]>;
}

export interface SwarmControlOptions {
  socketPath: string;
  timeoutMs: number;
  stack: string;
}

const STACK_LABEL = 'com.docker.stack.namespace';

/** The API's task JSON (API 1.41), the fields read here. */
interface ApiTask {
  ID: string;
  Slot?: number;
  NodeID?: string;
  DesiredState: string;
  UpdatedAt?: string;
  Spec?: { ContainerSpec?: { Image?: string; Env?: string[] } };
  Status?: { State?: string; Err?: string; Timestamp?: string };
  NetworksAttachments?: { Network?: { Spec?: { Name?: string; Labels?: Record<string, string> } }; Addresses?: string[] }[];
}

interface ApiNode {
  ID: string;
  Description?: { Hostname?: string };
  Spec?: { Role?: string; Availability?: string };
  Status?: { State?: string; Addr?: string };
}

/** `bluegreen-demo-app:v2@sha256:…` → `bluegreen-demo-app:v2`: Swarm pins digests when it can resolve them. */
export function withoutDigest(image: string): string {
  const at = image.indexOf('@sha256:');
  return at === -1 ? image : image.slice(0, at);
}

function toNode(n: ApiNode): ClusterNode {
  return {
    id: n.ID,
    hostname: n.Description?.Hostname ?? n.ID.slice(0, 12),
    state: n.Status?.State ?? 'unknown',
    availability: n.Spec?.Availability ?? 'active',
    role: n.Spec?.Role === 'manager' ? 'manager' : 'worker',
    addr: n.Status?.Addr,
  };
}

/** The task's address on the stack's own network (not ingress), without the prefix length. */
function addressOf(t: ApiTask, stack: string): string | undefined {
  for (const att of t.NetworksAttachments ?? []) {
    const net = att.Network?.Spec;
    if (net?.Labels?.[STACK_LABEL] !== stack && !net?.Name?.startsWith(`${stack}_`)) continue;
    const addr = att.Addresses?.[0];
    if (addr) return addr.split('/')[0];
  }
  return undefined;
}

export function toTask(t: ApiTask, service: string, stack: string): PoolTask {
  const env = envRecord(t.Spec?.ContainerSpec?.Env);
  return {
    id: t.ID,
    name: t.Slot === undefined ? `${service}.${t.ID.slice(0, 12)}` : `${service}.${t.Slot}`,
    slot: t.Slot,
    nodeId: t.NodeID ?? '',
    state: t.Status?.State ?? 'unknown',
    desiredState: t.DesiredState,
    error: t.Status?.Err || undefined,
    address: addressOf(t, stack),
    image: withoutDigest(t.Spec?.ContainerSpec?.Image ?? ''),
    release: env.RELEASE_ID,
    since: t.Status?.Timestamp ?? t.UpdatedAt ?? '',
  };
}

function toUpdate(u: Docker.Service['UpdateStatus'] | undefined): SwarmUpdate | undefined {
  if (!u?.State) return undefined;
  return { state: u.State, message: u.Message || undefined, startedAt: u.StartedAt, completedAt: u.CompletedAt };
}

/**
 * The tasks worth showing: every task Swarm wants running, and the newest task of each slot that is
 * not, when it failed after the slot's running task started (a failed start says why), so a pool
 * that cannot start, or an update Swarm rolled back, shows its error.
 */
export function currentTasks(tasks: PoolTask[]): PoolTask[] {
  const wanted = tasks.filter((t) => t.desiredState === 'running');
  const bySlot = new Map<string, PoolTask>();
  for (const t of tasks) {
    if (t.desiredState === 'running') continue;
    const key = String(t.slot ?? t.id);
    const seen = bySlot.get(key);
    if (!seen || seen.since < t.since) bySlot.set(key, t);
  }
  // A failure stays visible while its slot's running task is older than it: that is the old
  // release still serving after a failed start-first update (the failure says why Swarm rolled
  // back). A task that started after the failure replaced it, and hides it.
  const failures = [...bySlot.values()].filter(
    (t) => t.error && !wanted.some((w) => w.slot !== undefined && w.slot === t.slot && w.state === 'running' && w.since > t.since),
  );
  return [...wanted, ...failures].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
}

export function createSwarmControl(opts: SwarmControlOptions): SwarmControl {
  const load = lazyDockerClient(opts);
  const call = async <T>(what: string, fn: (docker: Docker) => Promise<T>): Promise<T> => {
    try {
      const docker = await load();
      return await withTimeout(fn(docker), opts.timeoutMs, what);
    } catch (err) {
      throw swarmError(toDockerError(err, what, opts.socketPath));
    }
  };
  const name = (pool: Pool) => `${opts.stack}_${serviceOf(pool)}`;

  async function inspectService(pool: Pool): Promise<Docker.Service> {
    return call(`inspect service ${name(pool)}`, (d) => d.getService(name(pool)).inspect() as Promise<Docker.Service>);
  }

  /** `rollback`: Swarm's own "previous spec" instead of the changed one (the CLI's service rollback). */
  async function updateSpec(pool: Pool, change: (spec: Docker.ServiceSpec) => void, rollback = false): Promise<Docker.Service> {
    const svc = await inspectService(pool);
    const spec = structuredClone(svc.Spec) as Docker.ServiceSpec;
    change(spec);
    const query = { version: svc.Version?.Index, ...(rollback ? { rollback: 'previous' } : {}) };
    await call(`${rollback ? 'roll back' : 'update'} service ${name(pool)}`, (d) =>
      // _query/_body: docker-modem would otherwise put the whole spec in the query string too.
      d.getService(svc.ID).update({ _query: query, _body: spec } as unknown as Docker.ServiceSpec),
    );
    return svc;
  }

  return {
    stack: opts.stack,

    async snapshot() {
      const at = new Date().toISOString();
      const [services, tasks, nodes] = await call('read the swarm', (d) =>
        Promise.all([
          d.listServices({ filters: { label: [`${STACK_LABEL}=${opts.stack}`] } }),
          d.listTasks({ filters: { label: [`${STACK_LABEL}=${opts.stack}`] } }) as Promise<ApiTask[]>,
          d.listNodes() as Promise<ApiNode[]>,
        ]),
      );
      const pools = {} as Record<Pool, PoolService>;
      for (const pool of POOLS) {
        const svc = services.find((s) => s.Spec?.Name === name(pool));
        if (!svc) {
          throw new BluegreenError('CONTAINER_NOT_FOUND', `no service ${name(pool)} in stack ${opts.stack}`, {
            hint: `npm run swarm:up (STACK_NAME=${opts.stack}), or set STACK_NAME to the stack the bot runs`,
          });
        }
        const spec = svc.Spec?.TaskTemplate as { ContainerSpec?: { Image?: string; Env?: string[]; Healthcheck?: SpecHealthcheck } } | undefined;
        pools[pool] = {
          pool,
          service: name(pool),
          desired: svc.Spec?.Mode?.Replicated?.Replicas ?? 0,
          image: withoutDigest(spec?.ContainerSpec?.Image ?? ''),
          release: envRecord(spec?.ContainerSpec?.Env).RELEASE_ID,
          tasks: currentTasks(tasks.filter((t) => (t as { ServiceID?: string }).ServiceID === svc.ID).map((t) => toTask(t, name(pool), opts.stack))),
          update: toUpdate(svc.UpdateStatus),
          unhealthyAfterMs: unhealthyAfterMs(spec?.ContainerSpec?.Healthcheck),
        };
      }
      return { at, stack: opts.stack, nodes: nodes.map(toNode), pools };
    },

    async update(pool, image, env) {
      const before = await updateSpec(pool, (spec) => {
        const task = spec.TaskTemplate as { ContainerSpec: { Image?: string; Env?: string[] }; ForceUpdate?: number };
        const merged = { ...envRecord(task.ContainerSpec.Env), ...env };
        task.ContainerSpec.Image = image;
        task.ContainerSpec.Env = Object.entries(merged).map(([k, v]) => `${k}=${v}`);
        task.ForceUpdate = (task.ForceUpdate ?? 0) + 1;
      });
      return toUpdate(before.UpdateStatus);
    },

    async scale(pool, replicas) {
      const before = await updateSpec(pool, (spec) => {
        if (!spec.Mode?.Replicated) {
          throw new BluegreenError('INTERNAL', `${name(pool)} is not a replicated service; scale works on replicated services only`);
        }
        spec.Mode.Replicated.Replicas = replicas;
      });
      return before.Spec?.Mode?.Replicated?.Replicas ?? 0;
    },

    async rollback(pool) {
      return toUpdate((await updateSpec(pool, () => undefined, true)).UpdateStatus);
    },

    async localContainer(service) {
      const rows = await call(`find ${opts.stack}_${service}`, (d) =>
        d.listContainers({ filters: { label: [`com.docker.swarm.service.name=${opts.stack}_${service}`], status: ['running'] } }),
      );
      return rows[0]?.Id;
    },

    async localContainers(service) {
      const rows = await call(`find ${opts.stack}_${service}`, (d) =>
        d.listContainers({ filters: { label: [`com.docker.swarm.service.name=${opts.stack}_${service}`], status: ['running', 'paused'] } }),
      );
      return rows.map((r) => r.Id);
    },
  };
}

/** "This node is not a swarm manager" (503) is the mistake people make: say what to do. */
function swarmError(err: BluegreenError): BluegreenError {
  if (/not a swarm manager|swarm mode|This node is not/i.test(err.message)) {
    return new BluegreenError('DOCKER_UNAVAILABLE', `${err.message}: Swarm mode needs the Docker socket of a swarm manager`, {
      hint: 'place the bot on a manager node (the edge node must be a manager), or set DEPLOY_MODE=compose',
      cause: err,
    });
  }
  return err;
}

/** A service spec's health check, as the Engine API gives it (durations in nanoseconds). */
interface SpecHealthcheck {
  Test?: string[];
  Interval?: number;
  Retries?: number;
}

/**
 * interval x retries of a spec's health check, with Docker's defaults for what it leaves out (30 s,
 * 3); undefined when there is none, or it is switched off (["NONE"]).
 */
export function unhealthyAfterMs(hc: SpecHealthcheck | undefined): number | undefined {
  if (!hc?.Test || hc.Test.length === 0 || hc.Test[0] === 'NONE') return undefined;
  const intervalMs = hc.Interval && hc.Interval > 0 ? hc.Interval / 1e6 : 30_000;
  const retries = hc.Retries && hc.Retries > 0 ? hc.Retries : 3;
  return Math.round(intervalMs * retries);
}

/**
 * The same control, with snapshot() answered from a read at most `maxAgeMs` old, and concurrent
 * readers sharing one read: status, health checks and chaos each want the tasks, and three list
 * calls a reader a second load a busy manager for nothing (the sync loop reads every SWARM_SYNC_MS).
 */
export function withSnapshotCache(control: SwarmControl, maxAgeMs: number, now: () => number = Date.now): SwarmControl {
  let last: { at: number; snapshot: ClusterSnapshot } | undefined;
  let reading: Promise<ClusterSnapshot> | undefined;
  return {
    stack: control.stack,
    localContainer: (service) => control.localContainer(service),
    localContainers: (service) => control.localContainers(service),
    // What changes the swarm makes the next read a fresh one.
    update: (pool, image, env) => control.update(pool, image, env).finally(() => (last = undefined)),
    scale: (pool, replicas) => control.scale(pool, replicas).finally(() => (last = undefined)),
    rollback: (pool) => control.rollback(pool).finally(() => (last = undefined)),
    snapshot() {
      if (last && now() - last.at < maxAgeMs) return Promise.resolve(last.snapshot);
      reading ??= control.snapshot().then(
        (snapshot) => {
          last = { at: now(), snapshot };
          reading = undefined;
          return snapshot;
        },
        (err: unknown) => {
          reading = undefined;
          throw err;
        },
      );
      return reading;
    },
  };
}
