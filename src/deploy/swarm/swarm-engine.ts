import { BluegreenError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { POOLS, type Pool } from '../../pool.js';
import { failed, ok, type OpResult } from '../../shared/op-result.js';
import type { Progress } from '../../shared/progress.js';
import type { DeployData, DeployEngine, DeployRequest, EngineHooks, PoolDescription, ScaleData } from '../deploy-engine.js';
import type { NginxControl } from '../nginx/nginx-control.js';
import { CONNECT_TIMEOUT_MS, probeHealth, type HealthSpec, type HttpProbe } from '../pools/probe-http.js';
import { describePerNode, servingTasks, swarmPoolStatus, tasksPerNode, type ClusterSnapshot, type PoolTask, type SwarmPoolStatus } from './cluster.js';
import { rebalance as spreadPool } from './swarm-rebalance.js';
import { rollOut, scaleTo, taskErrors } from './swarm-rollout.js';
import { candidates } from './swarm-members.js';
import { createSpreadKeeper } from './swarm-spread-keeper.js';
import type { SwarmControl } from './swarm-control.js';
import { createSwarmSync, type SwarmSync } from './swarm-sync.js';

// The Swarm engine: each pool is a replicated service of the stack. Deploy is Swarm's own rolling
// update, gated by the bot's probe of each new task and rolled back by the bot when a task never
// turns healthy; scale sets replicas; a pool whose tasks all sit on one node is spread again
// (swarm-rebalance.ts). While the bot runs, nginx's members follow the tasks (swarm-sync.ts), the
// spread keeper watches placement, and every snapshot goes to `onSnapshot` (the cluster alerts).

/**
 * The probe of each task for nginx's members: a connection within 500 ms (a live task completes
 * the handshake in well under that, however busy its CPU), an answer within 2 s (a busy host's
 * tasks answer slowly; slow is not gone).
 */
const MEMBER_PROBE = { connectTimeoutMs: CONNECT_TIMEOUT_MS, timeoutMs: 2000 };
/** How long a pool's tasks may sit on one node before the bot spreads them (a node just back settles first). */
const SPREAD_AFTER_MS = 10_000;
/** Tasks that are not running, listed by name up to this many; the rest are counted. */
const MAX_TASK_LINES = 5;
/** Update states that stopped short of the new release: someone should look. */
const TROUBLE = new Set(['paused', 'rollback_started', 'rollback_paused', 'rollback_completed']);

export interface SwarmEngineOptions {
  /** The stack's control, its snapshots cached for about a poll (withSnapshotCache). */
  control: SwarmControl;
  nginx: NginxControl;
  appPort: number;
  adminPort: number;
  /** How the app says it is healthy (deploy's gate and nginx's members use it). */
  health: HealthSpec;
  /** How often the member sync reads the swarm (SWARM_SYNC_MS). */
  syncMs: number;
  /** How often a deploy or scale reads the swarm while following it. */
  pollMs: number;
  /** Deadline of one task's health probe in deploy's gate. */
  healthTimeoutMs: number;
  /** How long one task of a deploy, or a scale, may take to turn healthy. */
  deployHealthTimeoutMs: number;
  log: Logger;
  /** Told every snapshot the member sync reads (the cluster alerts). */
  onSnapshot?: (snapshot: ClusterSnapshot) => void;
  /** Replace deploy's probe of one task [HTTP GET of healthPath] (tests). */
  probeTask?: (task: PoolTask, timeoutMs: number) => Promise<HttpProbe>;
  /** Replace "nginx sends traffic to the task" [it is in nginx's member files] (tests). */
  serves?: (task: PoolTask) => Promise<boolean>;
}

/** A pool's service in the words every view shows. */
export function describeService(snapshot: ClusterSnapshot, pool: Pool): PoolDescription {
  return describeSwarmPool(swarmPoolStatus(snapshot, pool));
}

export function describeSwarmPool(s: SwarmPoolStatus): PoolDescription {
  const stopped = s.tasks.filter((t) => t.state !== 'running');
  const notRunning = stopped.slice(0, MAX_TASK_LINES).map((t) => `${t.name}${t.node ? ` on ${t.node}` : ''} ${t.state}${t.error ? `: ${t.error}` : ''}`);
  if (stopped.length > MAX_TASK_LINES) notRunning.push(`… and ${stopped.length - MAX_TASK_LINES} more not running`);
  return {
    unit: `service ${s.service}`,
    image: s.image,
    release: s.release,
    state: `${s.running}/${s.desired} running`,
    running: s.running,
    desired: s.desired,
    engineHealth: undefined,
    startedAt: undefined,
    perNode: describePerNode(s.perNode),
    placementWarning: s.oneNode && `all ${s.running} tasks on ${s.oneNode}: losing that node leaves none`,
    update: s.update && `${s.update.state}${s.update.message ? `: ${s.update.message}` : ''}`,
    updateTrouble: s.update !== undefined && TROUBLE.has(s.update.state),
    notRunning,
    replacesUnhealthyAfterMs: s.unhealthyAfterMs,
  };
}

export function createSwarmEngine(o: SwarmEngineOptions): DeployEngine {
  const { control, nginx } = o;
  const appBase = (address: string) => `http://${address}:${o.appPort}`;
  const probeTask = o.probeTask ?? ((task: PoolTask, timeoutMs: number) => probeHealth(appBase(task.address!), o.health, { ...MEMBER_PROBE, timeoutMs }));
  // The member files are nginx's truth in every process (the CLI runs deploy and scale too).
  const serves =
    o.serves ??
    (async (task: PoolTask) => {
      const members = await nginx.readMembers();
      return members !== undefined && POOLS.some((p) => members[p].includes(`${task.address}:${o.appPort}`));
    });
  const where = (snapshot: ClusterSnapshot, pool: Pool) => {
    const svc = snapshot.pools[pool];
    return `${servingTasks(snapshot, svc).length} of ${svc.desired} tasks running (${describePerNode(tasksPerNode(snapshot, svc))})`;
  };

  /** When the pool's tasks all sit on one node, moves one to another; says where they run. */
  async function spread(pool: Pool, say: Progress) {
    const r = await spreadPool(pool, { control, serves, timeoutMs: o.deployHealthTimeoutMs, say, pollMs: o.pollMs });
    const at = where(r.snapshot, pool);
    const text =
      r.kind === 'moved'
        ? `${at}; moved one task from ${r.from} to ${r.to} so that losing one node leaves ${pool} serving`
        : r.kind === 'failed'
          ? `${at}; all on one node: spreading them failed (${r.why})`
          : at;
    return { text, snapshot: r.snapshot, kind: r.kind };
  }

  async function deploy({ pool, image, env, active, say }: DeployRequest): Promise<OpResult<DeployData>> {
    // Swarm replaces one task at a time: each may take as long as a Compose deploy's one container.
    const timeoutMs = o.deployHealthTimeoutMs * Math.max(1, (await control.snapshot()).pools[pool].desired);
    const health = { probe: (t: PoolTask) => probeTask(t, o.healthTimeoutMs), timeoutMs: o.deployHealthTimeoutMs };
    const r = await rollOut(pool, image, env, { control, timeoutMs, say, pollMs: o.pollMs, health });
    const svc = r.snapshot.pools[pool];
    const release = svc.release;
    const tasks = where(r.snapshot, pool);
    if (r.kind === 'completed') {
      const spreadNow = await spread(pool, say);
      return ok(`Deployed ${image}${release ? ` (release ${release})` : ''} to ${pool}: Swarm's rolling update completed, ${spreadNow.text}; it is idle. Switch to it with: switch ${pool}`, {
        container: svc.service,
        release,
      });
    }
    const errors = taskErrors(r.snapshot, pool);
    const why = `${r.update?.message ?? 'no message from Swarm'}${errors.length ? `; ${errors.join('; ')}` : ''}`;
    if (r.kind === 'rolled_back') {
      const who = r.update.message?.startsWith('the bot') ? 'the update was rolled back' : 'Swarm rolled the update back';
      return failed(
        `deploy of ${image} to ${pool} failed: ${who} (${why}); ${pool} runs ${svc.image}${release ? ` (release ${release})` : ''} again, ${tasks}; ${active} served throughout`,
        `docker service ps ${svc.service} --no-trunc`,
      );
    }
    if (r.kind === 'paused') {
      return failed(
        `deploy of ${image} to ${pool} stopped: Swarm ${r.update.state === 'paused' ? 'paused the update' : 'paused its rollback'} (${why}); ${tasks}; ${active} keeps serving`,
        `docker service ps ${svc.service} --no-trunc; docker service rollback ${svc.service}`,
      );
    }
    return failed(
      `deploy of ${image} to ${pool} did not end within ${Math.round(timeoutMs / 1000)} s (update ${r.update?.state ?? 'not started'}); Swarm goes on with it; ${tasks}; ${active} keeps serving`,
      `bluegreen status, or docker service ps ${svc.service}`,
    );
  }

  async function scale(pool: Pool, replicas: number, say: Progress): Promise<OpResult<ScaleData>> {
    const r = await scaleTo(pool, replicas, { control, timeoutMs: o.deployHealthTimeoutMs, say, pollMs: o.pollMs });
    const svc = r.snapshot.pools[pool];
    const perNode = tasksPerNode(r.snapshot, svc);
    const data: ScaleData = { pool, previous: r.previous, desired: replicas, running: servingTasks(r.snapshot, svc).length, perNode };
    if (r.kind === 'done') {
      // More tasks may all land on one node; fewer are taken from the node with the most.
      const spreadNow = replicas > r.previous ? await spread(pool, say) : undefined;
      if (spreadNow) data.perNode = tasksPerNode(spreadNow.snapshot, spreadNow.snapshot.pools[pool]);
      return ok(`Scaled ${pool} from ${r.previous} to ${replicas}: ${spreadNow?.text ?? `${data.running} running (${describePerNode(perNode)})`}`, data);
    }
    const errors = taskErrors(r.snapshot, pool);
    return failed(
      `Scaled ${pool} from ${r.previous} to ${replicas}, but ${data.running} of ${replicas} run after ${Math.round(o.deployHealthTimeoutMs / 1000)} s (${describePerNode(perNode)})${errors.length ? `: ${errors.join('; ')}` : ''}; Swarm keeps trying`,
      `docker service ps ${svc.service} --no-trunc`,
    );
  }

  let sync: SwarmSync | undefined;
  let keeper: ReturnType<typeof createSpreadKeeper> | undefined;
  return {
    label: 'Swarm',
    project: () => Promise.resolve(control.stack),
    async describe() {
      const snapshot = await control.snapshot();
      return { blue: describeService(snapshot, 'blue'), green: describeService(snapshot, 'green') };
    },
    async release(pool) {
      return (await control.snapshot()).pools[pool].release;
    },
    async targets(pool) {
      const snap = await control.snapshot();
      return {
        desired: snap.pools[pool].desired,
        targets: candidates(snap, pool).map((t) => ({ name: t.address!, app: appBase(t.address!), admin: `http://${t.address}:${o.adminPort}` })),
      };
    },
    async faultTargets(pool) {
      // Docker faults reach the tasks on this node only: the API of a manager runs no command on
      // another node's containers.
      const [ids, snap] = await Promise.all([control.localContainers(`app_${pool}`), control.snapshot()]);
      return { ids, elsewhere: Math.max(0, servingTasks(snap, snap.pools[pool]).length - ids.length) };
    },
    async nginxContainer() {
      const id = await control.localContainer('nginx');
      if (!id) throw new BluegreenError('NGINX_DOWN', 'no running nginx task on this node', { hint: 'the bot and nginx must run on the same (edge) node: docker service ps <stack>_nginx' });
      return id;
    },
    deploy,
    scale,
    async rebalance(pool, say) {
      const r = await spread(pool, say);
      if (r.kind === 'failed') return failed(`${pool}: ${r.text}`, 'docker service ps shows where Swarm placed the tasks');
      return ok(`${pool}: ${r.text}`, { moved: r.kind === 'moved' });
    },
    start(hooks: EngineHooks) {
      keeper = createSpreadKeeper({ rebalance: hooks.rebalance, busy: hooks.busy, afterMs: SPREAD_AFTER_MS, retryMs: 5 * 60_000, log: o.log });
      const k = keeper;
      sync = createSwarmSync({
        control,
        nginx,
        appPort: o.appPort,
        intervalMs: o.syncMs,
        probe: async (address) => (await probeHealth(appBase(address), o.health, MEMBER_PROBE)).outcome,
        readApplied: () => nginx.readMembers(),
        log: o.log,
        onSnapshot: (snapshot) => {
          o.onSnapshot?.(snapshot);
          k.observe(snapshot);
        },
      });
      sync.start();
    },
    async stop() {
      await sync?.stop();
      await keeper?.idle();
    },
  };
}

