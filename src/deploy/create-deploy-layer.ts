import { hostname } from 'node:os';
import { parseStatusSet, type Config } from '../config.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Pool } from '../pool.js';
import type { Actor } from '../shared/actor.js';
import type { AlertEvent } from '../shared/alert.js';
import type { DeployEngine } from './deploy-engine.js';
import type { ContainerEngine } from './docker/container-engine.js';
import { createDockerEngine } from './docker/docker-engine.js';
import { createHealthChecker, type HealthChecker } from './guards/health-checker.js';
import { createPostSwitchGuard, type AttemptCounts, type PostSwitchGuard } from './guards/post-switch-guard.js';
import { createNginxControl } from './nginx/nginx-control.js';
import { createOperations, type Operations, type PoolStats } from './operations.js';
import { createPoolClient, type PoolClient } from './pools/pool-client.js';
import type { HealthSpec } from './pools/probe-http.js';
import { selectEngine } from './select-engine.js';
import { createOpLock } from './state/op-lock.js';
import { createStateStore, type StateStore } from './state/state-store.js';
import type { ClusterSnapshot } from './swarm/cluster.js';
import type { SwarmControl } from './swarm/swarm-control.js';

// Builds deploy control from config: the engine (select-engine.ts), nginx, the pools' health, state,
// lock, the use cases over them, and the guards. The bot (app.ts) starts the timers; the CLI uses only `ops`.

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
  /** Told every cluster snapshot a Swarm engine reads (cluster alerts). */
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
  /** The process's one state store; the Slack layer writes the refusals it decides through it too. */
  store: StateStore;
  /** ENV_NAME, else the compose project once Docker named it, else the host name. */
  envName(): string;
  view(): DeployView;
  health: HealthChecker;
  guard: PostSwitchGuard;
  /** Health checks, post-switch guard, maintenance expiry. */
  start(): void;
  stop(): Promise<void>;
}

/** At start-up nginx may not run yet: how often and how far apart the bot tells it the releases. */
const RELEASE_PUBLISH_TRIES = 6;
const RELEASE_PUBLISH_RETRY_MS = 5000;

export function createDeployLayer(deps: DeployLayerDeps): DeployLayer {
  const { config, log } = deps;
  const dlog = log.child({ component: 'deploy' });
  const raise = deps.raise ?? ((a: AlertEvent) => dlog.warn({ alert: a }, a.title));
  const engine = deps.engine ?? createDockerEngine({ socketPath: config.DOCKER_HOST ?? config.DOCKER_SOCKET, timeoutMs: config.DOCKER_TIMEOUT_MS });
  const nginx = createNginxControl({
    stateDir: config.NGINX_STATE_DIR,
    url: config.NGINX_URL,
    engine,
    container: async () => (await engines.engine()).nginxContainer(),
    probe: { path: config.APP_HEALTH_PATH, hostHeader: config.APP_HEALTH_HOST },
  });
  const appHealth: HealthSpec = { path: config.APP_HEALTH_PATH, expect: parseStatusSet(config.APP_HEALTH_STATUS)!, hostHeader: config.APP_HEALTH_HOST };
  // People's commands can wait longer for an answer than the once-a-second checker does.
  const healthTimeoutMs = Math.max(2000, config.HEALTH_CHECK_TIMEOUT_MS);
  const engines = selectEngine({
    config,
    docker: engine,
    selfId: deps.selfId ?? hostname(),
    nginx: () => nginx,
    health: appHealth,
    healthTimeoutMs,
    log: dlog,
    ...(deps.swarmControl ? { swarmControl: deps.swarmControl } : {}),
    ...(deps.onClusterSnapshot ? { onClusterSnapshot: deps.onClusterSnapshot } : {}),
  });
  // A name a person recognises: the compose project (e.g. "shop"), not the container id.
  const envName = () => config.ENV_NAME ?? engines.projectName() ?? hostname();
  const pools =
    deps.pools ??
    createPoolClient({ minCapacityPct: config.POOL_MIN_HEALTHY_PERCENT, health: appHealth, adminToken: config.ADMIN_TOKEN, targets: (pool) => engines.targets(pool) });
  const store = createStateStore(config.STATE_DIR, {
    auditRotation: { maxBytes: config.AUDIT_MAX_BYTES, keep: config.AUDIT_KEEP_FILES },
    refusals: { perWindow: config.AUDIT_REFUSALS_PER_MIN, windowMs: 60_000, log: dlog.child({ part: 'audit' }) },
  });
  const lock = createOpLock({
    dir: config.STATE_DIR,
    waitMs: config.LOCK_WAIT_MS,
    onAcquired: (ms) => deps.metrics?.lockWait.observe(ms / 1000),
  });
  const poolStats = deps.poolStats ?? (() => undefined);

  const ops = createOperations({
    engine: engines.engine,
    nginx,
    pools,
    containers: engine,
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
      healthTimeoutMs,
      verifyTimeoutMs: config.SWITCH_VERIFY_TIMEOUT_MS,
      deployHealthTimeoutMs: config.DEPLOY_HEALTH_TIMEOUT_MS,
      maintenanceDefaultMs: config.MAINTENANCE_DEFAULT,
      chaosDefaultMs: config.CHAOS_DEFAULT_DURATION,
      chaosMaxMs: config.CHAOS_MAX_DURATION,
      chaosNetImage: config.CHAOS_NET_IMAGE,
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
  let recordedChaos: Record<Pool, boolean> = { blue: false, green: false };
  const refreshView = async () => {
    active = await ops.activePool();
    const state = await ops.readState();
    maintenance = state.maintenance.on;
    recordedChaos = { blue: state.chaos.blue !== undefined, green: state.chaos.green !== undefined };
    // Switches made by another process (the CLI) are guarded here too; the guard takes a record once.
    if (state.lastSwitch) guard.onSwitched(state.lastSwitch);
  };
  let expiry: NodeJS.Timeout | undefined;
  let expiringChaos = false;
  let started: DeployEngine | undefined;
  let stopped = false;
  return {
    ops,
    store,
    envName,
    health,
    guard,
    view: () => ({
      activePool: active,
      maintenance,
      chaos: (pool) => recordedChaos[pool] || health.snapshot().find((s) => s.pool === pool)?.last?.chaos != null,
    }),
    start() {
      // Say at start-up, not only at the first operation, when Docker is not usable.
      engines
        .engine()
        .then(async (e) => {
          if (stopped) return;
          started = e;
          e.start({ rebalance: (pool) => ops.rebalance(pool, { by: SPREAD_ACTOR }), busy: async () => (await lock.holder()) !== undefined });
          dlog.info({ project: await e.project(), engine: e.label }, `deploy control ready (${e.label} mode)`);
          // nginx may still be starting: try again a few times, then leave it to the next deploy.
          for (let i = 0; i < RELEASE_PUBLISH_TRIES && !stopped && !(await ops.publishReleases()); i++) {
            await new Promise((r) => setTimeout(r, RELEASE_PUBLISH_RETRY_MS).unref());
          }
        })
        .catch((err: unknown) => dlog.error({ problem: describeError(err) }, 'deploy control cannot use Docker; switch and chaos still work, status and deploy report the problem'));
      health.start();
      void (config.MAINTENANCE_MODE ? ops.seedMaintenance() : Promise.resolve(false))
        .then(refreshView)
        .catch((err: unknown) => dlog.error({ err }, 'reading the deploy state failed'));
      expiry = setInterval(() => {
        void ops
          .expireMaintenance()
          .then(refreshView)
          .catch((err: unknown) => dlog.error({ err }, 'maintenance expiry failed'));
        // Faults whose time is up, also those a bot before this restart started.
        if (!expiringChaos) {
          expiringChaos = true;
          void ops
            .expireChaos()
            .catch((err: unknown) => dlog.error({ problem: describeError(err) }, 'chaos expiry failed'))
            .finally(() => (expiringChaos = false));
        }
      }, 1000);
      expiry.unref();
    },
    async stop() {
      stopped = true;
      await started?.stop();
      if (expiry) clearInterval(expiry);
      guard.stop();
      await health.stop();
      await store.close();
    },
  };
}
