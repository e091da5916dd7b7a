import { hostname } from 'node:os';
import type { Config } from '../config.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { AlertEvent } from '../shared/alert.js';
import type { ContainerEngine } from './docker/container-engine.js';
import { createDockerEngine, resolveProject } from './docker/docker-engine.js';
import { createHealthChecker, type HealthChecker } from './guards/health-checker.js';
import { createNginxControl } from './nginx/nginx-control.js';
import { createOpLock } from './state/op-lock.js';
import { createOperations, type Operations, type PoolStats } from './operations.js';
import { composeTargets, createPoolClient, type PoolClient } from './pools/pool-client.js';
import { probeHttp } from './pools/probe-http.js';
import { candidates } from './swarm/swarm-members.js';
import { createSpreadKeeper } from './swarm/swarm-spread-keeper.js';
import { POOLS, type Pool } from '../pool.js';
import type { Actor } from '../shared/actor.js';
import { createPostSwitchGuard, type AttemptCounts, type PostSwitchGuard } from './guards/post-switch-guard.js';
import { createStateStore } from './state/state-store.js';
import { BluegreenError } from '../errors.js';
import type { ClusterSnapshot } from './swarm/cluster.js';
import { createSwarmControl, withSnapshotCache, type SwarmControl } from './swarm/swarm-control.js';
import { createSwarmSync, type SwarmSync } from './swarm/swarm-sync.js';
import type { SwarmHandle } from './operations.js';

// Builds deploy control from config. The bot (app.ts) starts the timers; the CLI uses only `ops`.

const HEALTH_PATH = '/healthz';
/**
 * Swarm mode's probe of each task for nginx's members: a connection within 500 ms (a live task
 * completes the handshake in well under that, however busy its CPU), an answer within 2 s (a busy
 * host's tasks answer slowly; slow is not gone).
 */
const MEMBER_PROBE = { connectTimeoutMs: 500, timeoutMs: 2000 };
/** How long a pool's tasks may sit on one node before the bot spreads them (a node just back settles first). */
const SPREAD_AFTER_MS = 10_000;
const SPREAD_ACTOR: Actor = { kind: 'auto', id: 'spread-keeper', name: 'spread keeper' };

export interface DeployLayerDeps {
  config: Config;
  log: Logger;
  metrics?: Metrics;
  raise?: (alert: AlertEvent) => void | Promise<void>;
  poolStats?: (pool: Pool) => PoolStats | undefined;
  /** The watcher's attempt counts, for the post-switch guard (none: the guard never trips). */
  attempts?: (pool: Pool) => AttemptCounts | undefined;
  /** Replace the Docker engine (tests). */
  engine?: ContainerEngine;
  pools?: PoolClient;
  /** This process's container id prefix, to find the compose project from its own labels. */
  selfId?: string;
  /** Replace the Swarm API (tests). */
  swarmControl?: (stack: string) => SwarmControl;
  /** Swarm mode: told every snapshot the sync loop reads (cluster alerts). */
  onClusterSnapshot?: (snapshot: ClusterSnapshot) => void;
}

/** A synchronous, recent view for the watcher's hot path (refreshed every health round and on switch). */
export interface DeployView {
  activePool: Pool;
  maintenance: boolean;
  chaos(pool: Pool): boolean;
}

export interface DeployLayer {
  ops: Operations;
  /** ENV_NAME, else the compose project once Docker named it, else the host name. */
  envName(): string;
  view(): DeployView;
  health: HealthChecker;
  guard: PostSwitchGuard;
  /** Health checks, post-switch guard, maintenance expiry. */
  start(): void;
  stop(): Promise<void>;
}

export function createDeployLayer(deps: DeployLayerDeps): DeployLayer {
  const { config, log } = deps;
  const dlog = log.child({ component: 'deploy' });
  const raise = deps.raise ?? ((a: AlertEvent) => dlog.warn({ alert: a }, a.title));
  const engine = deps.engine ?? createDockerEngine({ socketPath: config.DOCKER_SOCKET, timeoutMs: config.DOCKER_TIMEOUT_MS });
  const selfId = deps.selfId ?? hostname();
  // Resolved at first use and remembered once found: a missing socket at start-up must not stop
  // the bot, and the error then reaches whoever runs the first operation.
  let project: Promise<string> | undefined;
  let projectName: string | undefined;
  const getProject = () => {
    project ??= resolveProject(engine, config.COMPOSE_PROJECT_NAME, selfId).then(
      (p) => (projectName = p),
      (err: unknown) => {
        project = undefined;
        throw err;
      },
    );
    return project;
  };
  // Swarm mode: configured (DEPLOY_MODE=swarm, STACK_NAME) or detected from the bot's own labels.
  // Resolved at first use like the project; a Docker problem is not remembered, so it is asked again.
  let swarm: Promise<SwarmHandle | undefined> | undefined;
  const detectStack = async (): Promise<string | undefined> => {
    if (config.STACK_NAME) return config.STACK_NAME;
    try {
      return (await engine.inspect(selfId)).labels['com.docker.stack.namespace'];
    } catch (err) {
      // Not in a container (the CLI on a host): no stack to be found.
      if (err instanceof BluegreenError && err.code === 'CONTAINER_NOT_FOUND') return undefined;
      throw err;
    }
  };
  const getSwarm = (): Promise<SwarmHandle | undefined> => {
    if (config.DEPLOY_MODE === 'compose') return Promise.resolve(undefined);
    swarm ??= detectStack().then(
      (stack) => {
        if (!stack) {
          if (config.DEPLOY_MODE === 'swarm') {
            throw new BluegreenError('CONTAINER_NOT_FOUND', 'DEPLOY_MODE=swarm, but the bot cannot tell which stack it drives', {
              hint: 'set STACK_NAME, or run the bot as a service of the stack (docker-stack.yml)',
            });
          }
          return undefined;
        }
        projectName = stack;
        const control = deps.swarmControl?.(stack) ?? createSwarmControl({ socketPath: config.DOCKER_SOCKET, timeoutMs: config.DOCKER_TIMEOUT_MS, stack });
        return {
          control: withSnapshotCache(control, Math.min(1000, config.SWARM_SYNC_MS)),
          pollMs: Math.min(1000, config.SWARM_SYNC_MS),
          probeTask: (task, timeoutMs) => probeHttp(new URL(HEALTH_PATH, `http://${task.address}:${config.APP_PORT}`), { ...MEMBER_PROBE, timeoutMs }),
          // The member files are nginx's truth in every process (the CLI runs deploy and scale too).
          serves: async (task) => {
            const members = await nginx.readMembers();
            return members !== undefined && POOLS.some((p) => members[p].includes(`${task.address}:${config.APP_PORT}`));
          },
        };
      },
      (err: unknown) => {
        swarm = undefined;
        throw err;
      },
    );
    return swarm;
  };
  // A name a person recognises: the compose project (e.g. "shop"), not the container id.
  const envName = () => config.ENV_NAME ?? projectName ?? hostname();
  const composeUrls = {
    app: {
      blue: config.POOL_URL_BLUE ?? `http://app_blue:${config.APP_PORT}`,
      green: config.POOL_URL_GREEN ?? `http://app_green:${config.APP_PORT}`,
    },
    admin: {
      blue: config.POOL_ADMIN_URL_BLUE ?? `http://app_blue:${config.ADMIN_PORT}`,
      green: config.POOL_ADMIN_URL_GREEN ?? `http://app_green:${config.ADMIN_PORT}`,
    },
  };
  const oneContainer = composeTargets(composeUrls);
  const pools =
    deps.pools ??
    createPoolClient({
      minCapacityPct: config.POOL_MIN_HEALTHY_PERCENT,
      // Swarm mode: every task that may serve, by its address; Compose: the pool's one container.
      targets: async (pool) => {
        // Without Docker, health and chaos still work in Compose mode (plain HTTP): only Swarm mode needs the API.
        const sw = config.DEPLOY_MODE === 'swarm' ? await getSwarm() : await getSwarm().catch(() => undefined);
        if (!sw) return oneContainer(pool);
        const snap = await sw.control.snapshot();
        return {
          desired: snap.pools[pool].desired,
          targets: candidates(snap, pool).map((t) => ({ name: t.address!, app: `http://${t.address}:${config.APP_PORT}`, admin: `http://${t.address}:${config.ADMIN_PORT}` })),
        };
      },
    });
  const nginx = createNginxControl({
    stateDir: config.NGINX_STATE_DIR,
    url: config.NGINX_URL,
    engine,
    project: getProject,
    swarmNginx: async () => {
      const sw = await getSwarm();
      return sw ? { id: await sw.control.localContainer('nginx') } : undefined;
    },
  });
  const store = createStateStore(config.STATE_DIR);
  const lock = createOpLock({
    dir: config.STATE_DIR,
    waitMs: config.LOCK_WAIT_MS,
    onAcquired: (ms) => deps.metrics?.lockWait.observe(ms / 1000),
  });
  const poolStats = deps.poolStats ?? (() => undefined);

  const ops = createOperations({
    engine,
    project: getProject,
    swarm: getSwarm,
    nginx,
    pools,
    store,
    lock,
    raise,
    log: dlog,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    poolStats,
    // Called only after start-up, when `guard` below exists.
    onSwitched: (r) => {
      active = r.to;
      guard.onSwitched(r);
    },
    settings: {
      get envName() {
        return envName();
      },
      // People's commands can wait longer for an answer than the once-a-second checker does.
      healthTimeoutMs: Math.max(2000, config.HEALTH_CHECK_TIMEOUT_MS),
      verifyTimeoutMs: config.SWITCH_VERIFY_TIMEOUT_MS,
      deployHealthTimeoutMs: config.DEPLOY_HEALTH_TIMEOUT_MS,
      maintenanceDefaultMs: config.MAINTENANCE_DEFAULT,
      releaseIds: { ...(config.RELEASE_ID_BLUE ? { blue: config.RELEASE_ID_BLUE } : {}), ...(config.RELEASE_ID_GREEN ? { green: config.RELEASE_ID_GREEN } : {}) },
    },
  });
  const guard = createPostSwitchGuard({
    ops,
    attempts: deps.attempts ?? (() => undefined),
    poolStats,
    guardMs: config.POST_SWITCH_GUARD_SEC * 1000,
    thresholdPercent: config.ERROR_RATE_THRESHOLD,
    autoRollback: config.AUTO_ROLLBACK,
    get envName() {
      return envName();
    },
    raise,
    log: dlog,
  });
  const health = createHealthChecker({
    ops,
    pools,
    intervalMs: config.HEALTH_CHECK_INTERVAL_MS,
    timeoutMs: Math.min(config.HEALTH_CHECK_TIMEOUT_MS, config.HEALTH_CHECK_INTERVAL_MS),
    failAfter: config.AUTO_FAILOVER_AFTER,
    enabled: config.AUTO_FAILOVER,
    get envName() {
      return envName();
    },
    raise,
    log: dlog,
  });

  let active: Pool = config.ACTIVE_POOL;
  // The state file is the truth about maintenance; MAINTENANCE_MODE only seeds the first start.
  let maintenance = false;
  const refreshView = async () => {
    active = await ops.activePool();
    const state = await ops.readState();
    maintenance = state.maintenance.on;
    // Switches made by another process (the CLI) are guarded here too; the guard takes a record once.
    if (state.lastSwitch) guard.onSwitched(state.lastSwitch);
  };
  let expiry: NodeJS.Timeout | undefined;
  let sync: SwarmSync | undefined;
  const keeper = createSpreadKeeper({
    rebalance: (pool) => ops.rebalance(pool, { by: SPREAD_ACTOR }),
    busy: async () => (await lock.holder()) !== undefined,
    afterMs: SPREAD_AFTER_MS,
    retryMs: 5 * 60_000,
    log: dlog,
  });
  let stopped = false;
  return {
    ops,
    envName,
    health,
    guard,
    view: () => ({
      activePool: active,
      maintenance,
      chaos: (pool) => health.snapshot().find((s) => s.pool === pool)?.last?.chaos != null,
    }),
    start() {
      // Say at start-up, not only at the first operation, when Docker is not usable.
      getSwarm().then(
        async (sw) => {
          if (!sw) {
            dlog.info({ project: await getProject() }, 'deploy control ready (Compose mode)');
            return;
          }
          if (stopped) return;
          sync = createSwarmSync({
            control: sw.control,
            nginx,
            appPort: config.APP_PORT,
            intervalMs: config.SWARM_SYNC_MS,
            probe: async (address) => (await probeHttp(new URL(HEALTH_PATH, `http://${address}:${config.APP_PORT}`), MEMBER_PROBE)).outcome,
            readApplied: () => nginx.readMembers(),
            log: dlog,
            onSnapshot: (snapshot) => {
              deps.onClusterSnapshot?.(snapshot);
              keeper.observe(snapshot);
            },
          });
          sync.start();
          dlog.info({ stack: sw.control.stack }, 'deploy control ready (Swarm mode): nginx follows the tasks');
        },
      ).catch((err: unknown) => dlog.error({ problem: describeError(err) }, 'deploy control cannot use Docker; switch and chaos still work, status and deploy report the problem'));
      health.start();
      void (config.MAINTENANCE_MODE ? ops.seedMaintenance() : Promise.resolve(false))
        .then(refreshView)
        .catch((err: unknown) => dlog.error({ err }, 'reading the deploy state failed'));
      expiry = setInterval(
        () =>
          void ops
            .expireMaintenance()
            .then(refreshView)
            .catch((err: unknown) => dlog.error({ err }, 'maintenance expiry failed')),
        1000,
      );
      expiry.unref();
    },
    async stop() {
      stopped = true;
      await sync?.stop();
      await keeper.idle();
      if (expiry) clearInterval(expiry);
      guard.stop();
      await health.stop();
    },
  };
}
