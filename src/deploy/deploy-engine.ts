import type { Pool } from '../pool.js';
import type { OpResult } from '../shared/op-result.js';
import type { Progress } from '../shared/progress.js';
import type { PoolTargetList } from './pools/pool-client.js';

// The seam between the use cases and what runs the pools. Each engine implements it in a folder of
// its own beside this file (one container a pool, or a replicated service a pool). The use cases
// (use-cases/) see only this; select-engine.ts picks the engine once.

/** A pool as its engine runs it, in words every view shows the same way. */
export interface PoolDescription {
  /** What runs the pool: "container shop-app_blue-1", "service shop_app_blue". */
  unit: string;
  image: string | undefined;
  /** The release it runs, when the engine can tell (RELEASE_ID in its environment). */
  release: string | undefined;
  /** "running", "exited" (a container); "2/3 running" (a service's tasks). */
  state: string;
  /** Serving units of those wanted: 1 of 1 for a running container. */
  running: number;
  desired: number;
  /** The engine's own health of the unit (the image's HEALTHCHECK), when it has one. */
  engineHealth: string | undefined;
  /** When it started (a container). */
  startedAt: string | undefined;
  /** "vm (k3f2a1): 2, vm (9bd0c1): 1": where it runs, when the engine spreads it over nodes. */
  perNode: string | undefined;
  /** A placement that one failure takes down whole ("all 2 tasks on vm (9bd0c1): …"). */
  placementWarning: string | undefined;
  /** The engine's last rolling update ("rollback_completed: …"), and whether it stopped short. */
  update: string | undefined;
  updateTrouble: boolean;
  /** One line per unit that is not running, with its error. */
  notRunning: string[];
  /**
   * How long a failing health check takes the engine to replace the unit on its own (interval x
   * retries); undefined when the engine does not replace units for their health.
   */
  replacesUnhealthyAfterMs: number | undefined;
}

/** What a deploy asks of the engine: the idle pool to run `image`. The use case checked the rest. */
export interface DeployRequest {
  pool: Pool;
  image: string;
  env: Record<string, string>;
  /** The pool serving traffic meanwhile, for the answer's words. */
  active: Pool;
  say: Progress;
}

export interface DeployData {
  /** The container or service that runs the new release. */
  container: string;
  release: string | undefined;
}

export interface ScaleData {
  pool: Pool;
  previous: number;
  desired: number;
  running: number;
  /** Serving units per node label. */
  perNode: Record<string, number>;
}

/** What an engine's background work may ask of the use cases. */
export interface EngineHooks {
  /** Runs the audited rebalance use case (a pool found on one node). */
  rebalance(pool: Pool): Promise<OpResult<unknown>>;
  /** An operation holds the lock now: background work waits for a later round. */
  busy(): Promise<boolean>;
}

export interface DeployEngine {
  /** The engine's name in people's words ("Compose"). */
  readonly label: string;
  /** The compose project or stack the pools belong to; throws when Docker cannot tell. */
  project(): Promise<string>;
  /** Both pools; throws a BluegreenError when Docker cannot be read. */
  describe(): Promise<Record<Pool, PoolDescription>>;
  /** The release a pool runs, as its engine knows it (undefined when it does not). */
  release(pool: Pool): Promise<string | undefined>;
  /** The addresses health checks and chaos reach for the pool, and how many should answer. */
  targets(pool: Pool): Promise<PoolTargetList>;
  /** The container nginx runs in (commands run there: nginx -t, reloads). */
  nginxContainer(): Promise<string>;
  /**
   * The containers of the pool's units that this engine's Docker API reaches (chaos acts on them),
   * and how many of the pool's running units it cannot reach (Swarm tasks on other nodes).
   */
  faultTargets(pool: Pool): Promise<{ ids: string[]; elsewhere: number }>;
  /** Runs `image` in the idle pool, keeping the old release until the new one is healthy. */
  deploy(req: DeployRequest): Promise<OpResult<DeployData>>;
  /** Sets the pool's units and waits until they run; refused by an engine that runs one per pool. */
  scale(pool: Pool, replicas: number, say: Progress): Promise<OpResult<ScaleData>>;
  /** Moves a unit when all of a pool's sit on one node; refused when there are no nodes to spread over. */
  rebalance(pool: Pool, say: Progress): Promise<OpResult<{ moved: boolean }>>;
  /** Background work of a long-running bot (nginx's members following a service's tasks, cluster alerts). */
  start(hooks: EngineHooks): void;
  stop(): Promise<void>;
}
