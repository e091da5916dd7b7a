import type { Pool } from '../pool.js';
import type { Actor } from '../shared/actor.js';
import type { MaintenanceState } from '../shared/maintenance-state.js';
import type { OpResult } from '../shared/op-result.js';
import type { Progress } from '../shared/progress.js';
import type { DeployData, ScaleData } from './deploy-engine.js';
import type { DeployState } from './state/state-store.js';
import { createChaosUseCases, type ChaosKind, type StartChaosOptions } from './use-cases/chaos.js';
import { createContext, type OperationsDeps } from './use-cases/context.js';
import { createDeployUseCase, type DeployOptions } from './use-cases/deploy.js';
import { createMaintenanceUseCases, type MaintenanceReport, type SetMaintenanceOptions } from './use-cases/maintenance.js';
import { createScaleUseCases } from './use-cases/scale.js';
import { createStatusUseCase, type StatusReport } from './use-cases/status.js';
import { createSwitchUseCases, type RollbackOptions, type SwitchData, type SwitchOptions } from './use-cases/switch-pool.js';

// The table of contents of deploy control: every use case, in the order an operator meets them,
// each in its own file under use-cases/. Every mutating one runs under the one lock, is audited, and
// returns an OpResult; nothing operational throws past here. Which engine runs the pools is the
// use cases' context's business (select-engine.ts), never theirs.

export type { OperationsDeps, OperationsSettings, PoolStats } from './use-cases/context.js';
export type { PoolStatus, StatusReport } from './use-cases/status.js';
export type { SwitchData, SwitchKind } from './use-cases/switch-pool.js';
export type { MaintenanceReport } from './use-cases/maintenance.js';
export type { ChaosKind } from './use-cases/chaos.js';

export interface Operations {
  status(): Promise<OpResult<StatusReport>>;
  switchPool(target: Pool, opts: SwitchOptions): Promise<OpResult<SwitchData>>;
  /**
   * Back to the pool that was active before the last switch. `expect`: the pool a button promised
   * ("Roll back to blue"); refused when the last switch no longer leads back there.
   */
  rollback(by: Actor, opts?: RollbackOptions): Promise<OpResult<SwitchData>>;
  /** A time-boxed fault on a pool (use-cases/chaos.ts says which kinds, and how each is undone). */
  startChaos(pool: Pool, kind: ChaosKind, opts: StartChaosOptions): Promise<OpResult>;
  stopChaos(pool: Pool, by: Actor): Promise<OpResult>;
  /** Ends recorded faults whose time is up; called by a timer. */
  expireChaos(): Promise<Pool[]>;
  /** Quiet mode on (and the maintenance page with `page`) for a while, or off (use-cases/maintenance.ts). */
  setMaintenance(on: boolean, opts: SetMaintenanceOptions): Promise<OpResult<MaintenanceState>>;
  /** Moves the end of the maintenance under way; refused when maintenance is off. */
  extendMaintenance(ms: number, opts: { by: Actor }): Promise<OpResult<MaintenanceState>>;
  /** Maintenance as recorded, and whether nginx's page flag is there. */
  showMaintenance(): Promise<OpResult<MaintenanceReport>>;
  /** Ends maintenance whose time is up, page included; called by a timer. */
  expireMaintenance(): Promise<boolean>;
  /** MAINTENANCE_MODE=true at the first start: maintenance on, unless commands ever set it. */
  seedMaintenance(): Promise<boolean>;
  /** When the pool's units all sit on one node, moves one to another; refused by an engine without nodes. */
  rebalance(pool: Pool, opts: { by: Actor; progress?: Progress }): Promise<OpResult<{ moved: boolean }>>;
  /** Sets the pool's units and waits until they run; refused by an engine that runs one container a pool. */
  scale(pool: Pool, replicas: number, opts: { force: boolean; by: Actor; progress?: Progress }): Promise<OpResult<ScaleData>>;
  deploy(pool: Pool, image: string, opts: DeployOptions): Promise<OpResult<DeployData>>;
  /** The active pool as nginx sees it. */
  activePool(): Promise<Pool>;
  readState(): Promise<DeployState>;
  /** Tells nginx the release each pool runs, for its access log; false when nginx could not take it (logged). */
  publishReleases(): Promise<boolean>;
}

export function createOperations(deps: OperationsDeps): Operations {
  const ctx = createContext(deps);
  return {
    ...createStatusUseCase(ctx),
    ...createSwitchUseCases(ctx),
    ...createChaosUseCases(ctx),
    ...createMaintenanceUseCases(ctx),
    ...createDeployUseCase(ctx),
    ...createScaleUseCases(ctx),
    activePool: () => deps.nginx.activePool(),
    readState: () => deps.store.read(),
    publishReleases: ctx.publishReleases,
  };
}
