import type { Config } from '../config.js';
import { BluegreenError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Pool } from '../pool.js';
import { createComposeEngine } from './compose/compose-engine.js';
import type { DeployEngine } from './deploy-engine.js';
import type { ContainerEngine } from './docker/container-engine.js';
import { resolveProject } from './docker/docker-engine.js';
import type { NginxControl } from './nginx/nginx-control.js';
import { composeTargets, type PoolTargetList } from './pools/pool-client.js';
import { CONNECT_TIMEOUT_MS, probeHealth, type HealthSpec } from './pools/probe-http.js';
import type { ClusterSnapshot } from './swarm/cluster.js';
import { createSwarmControl, withSnapshotCache, type SwarmControl } from './swarm/swarm-control.js';
import { createSwarmEngine } from './swarm/swarm-engine.js';

// The one place that decides which engine runs the pools: DEPLOY_MODE=compose or swarm, or (auto)
// the bot's own container labels: a service of a stack means Swarm, anything else Compose. Decided
// at first use and remembered once known; a Docker that cannot be asked is not remembered, so the
// next use asks again (a missing socket at start-up must not stop the bot).

export type EngineConfig = Pick<
  Config,
  | 'DEPLOY_MODE'
  | 'STACK_NAME'
  | 'COMPOSE_PROJECT_NAME'
  | 'DOCKER_SOCKET'
  | 'DOCKER_HOST'
  | 'DOCKER_TIMEOUT_MS'
  | 'SWARM_SYNC_MS'
  | 'APP_PORT'
  | 'ADMIN_PORT'
  | 'POOL_URL_BLUE'
  | 'POOL_URL_GREEN'
  | 'POOL_ADMIN_URL_BLUE'
  | 'POOL_ADMIN_URL_GREEN'
  | 'HEALTH_CHECK_TIMEOUT_MS'
  | 'DEPLOY_HEALTH_TIMEOUT_MS'
>;

export interface SelectEngineOptions {
  config: EngineConfig;
  docker: ContainerEngine;
  /** This process's container id prefix, to read its own labels. */
  selfId: string;
  /** nginx control, bound to the engine late: it asks the engine where nginx runs. */
  nginx: () => NginxControl;
  /** How the app says it is healthy. */
  health: HealthSpec;
  /** Health gate deadline of one probe (people's commands wait longer than the checker). */
  healthTimeoutMs: number;
  log: Logger;
  /** Replace the Swarm API (tests). */
  swarmControl?: (stack: string) => SwarmControl;
  /** Told every cluster snapshot a long-running Swarm engine reads (the cluster alerts). */
  onClusterSnapshot?: (snapshot: ClusterSnapshot) => void;
}

export interface EngineSelection {
  engine(): Promise<DeployEngine>;
  /**
   * The targets health checks and chaos reach. Under DEPLOY_MODE=auto, when Docker cannot be asked,
   * the compose network's names: health and chaos work without the Docker socket.
   */
  targets(pool: Pool): Promise<PoolTargetList>;
  /** The compose project or stack, once known. */
  projectName(): string | undefined;
}

export function selectEngine(o: SelectEngineOptions): EngineSelection {
  const { config, docker } = o;
  let projectName: string | undefined;
  let project: Promise<string> | undefined;
  const getProject = () => {
    project ??= resolveProject(docker, config.COMPOSE_PROJECT_NAME, o.selfId).then(
      (p) => (projectName = p),
      (err: unknown) => {
        project = undefined;
        throw err;
      },
    );
    return project;
  };
  const urls = {
    app: { blue: config.POOL_URL_BLUE ?? `http://app_blue:${config.APP_PORT}`, green: config.POOL_URL_GREEN ?? `http://app_green:${config.APP_PORT}` },
    admin: {
      blue: config.POOL_ADMIN_URL_BLUE ?? `http://app_blue:${config.ADMIN_PORT}`,
      green: config.POOL_ADMIN_URL_GREEN ?? `http://app_green:${config.ADMIN_PORT}`,
    },
  };
  // A new container is judged by the same check as the pools, by its name on the compose network,
  // when this process runs in a container of the project (on that network); a CLI on the host
  // cannot reach it by name, and Docker's health decides there.
  let onNetwork: Promise<boolean> | undefined;
  const inProject = () =>
    (onNetwork ??= (async () => {
      try {
        return (await docker.inspect(o.selfId)).project === (await getProject());
      } catch {
        onNetwork = undefined;
        return false;
      }
    })());
  const probeContainer = async (name: string) => {
    if (!(await inProject())) return undefined;
    const p = await probeHealth(`http://${name}:${config.APP_PORT}`, o.health, { connectTimeoutMs: CONNECT_TIMEOUT_MS, timeoutMs: o.healthTimeoutMs });
    return { healthy: p.outcome === 'healthy', detail: p.detail };
  };
  const compose = () =>
    createComposeEngine({ docker, project: getProject, nginx: o.nginx(), urls, deployHealthTimeoutMs: config.DEPLOY_HEALTH_TIMEOUT_MS, probe: probeContainer });

  const detectStack = async (): Promise<string | undefined> => {
    if (config.STACK_NAME) return config.STACK_NAME;
    try {
      return (await docker.inspect(o.selfId)).labels['com.docker.stack.namespace'];
    } catch (err) {
      // Not in a container (the CLI on a host): no stack to be found.
      if (err instanceof BluegreenError && err.code === 'CONTAINER_NOT_FOUND') return undefined;
      throw err;
    }
  };
  const swarm = (stack: string) => {
    projectName = stack;
    const pollMs = Math.min(1000, config.SWARM_SYNC_MS);
    const control = o.swarmControl?.(stack) ?? createSwarmControl({ socketPath: config.DOCKER_HOST ?? config.DOCKER_SOCKET, timeoutMs: config.DOCKER_TIMEOUT_MS, stack });
    return createSwarmEngine({
      control: withSnapshotCache(control, pollMs),
      nginx: o.nginx(),
      appPort: config.APP_PORT,
      adminPort: config.ADMIN_PORT,
      health: o.health,
      syncMs: config.SWARM_SYNC_MS,
      pollMs,
      healthTimeoutMs: o.healthTimeoutMs,
      deployHealthTimeoutMs: config.DEPLOY_HEALTH_TIMEOUT_MS,
      log: o.log,
      ...(o.onClusterSnapshot ? { onSnapshot: o.onClusterSnapshot } : {}),
    });
  };

  let chosen: Promise<DeployEngine> | undefined;
  const engine = (): Promise<DeployEngine> => {
    if (config.DEPLOY_MODE === 'compose') return (chosen ??= Promise.resolve(compose()));
    chosen ??= detectStack().then(
      (stack) => {
        if (stack) return swarm(stack);
        if (config.DEPLOY_MODE === 'swarm') {
          throw new BluegreenError('CONTAINER_NOT_FOUND', 'DEPLOY_MODE=swarm, but the bot cannot tell which stack it drives', {
            hint: 'set STACK_NAME, or run the bot as a service of the stack (docker-stack.yml)',
          });
        }
        return compose();
      },
      (err: unknown) => {
        chosen = undefined;
        throw err;
      },
    );
    return chosen;
  };

  return {
    engine,
    async targets(pool) {
      const e = config.DEPLOY_MODE === 'auto' ? await engine().catch(() => undefined) : await engine();
      return e ? e.targets(pool) : composeTargets(urls)(pool);
    },
    projectName: () => projectName,
  };
}
