import { BluegreenError, describeError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import type { Pool } from '../../pool.js';
import type { Actor } from '../../shared/actor.js';
import type { AlertEvent } from '../../shared/alert.js';
import type { MaintenanceState } from '../../shared/maintenance-state.js';
import { failed, refused, type OpResult } from '../../shared/op-result.js';
import type { Progress } from '../../shared/progress.js';
import type { DeployEngine } from '../deploy-engine.js';
import type { NginxControl } from '../nginx/nginx-control.js';
import type { PoolClient, PoolProbe } from '../pools/pool-client.js';
import type { OpLock } from '../state/op-lock.js';
import type { StateStore, SwitchRecord } from '../state/state-store.js';

// What every use case stands on: the engine (whichever runs the pools), nginx, the pools' health,
// the state and the lock, and the one wrapper that makes a use case an operation (lock, audit,
// results instead of throws). Each use case is a file of its own beside this one.

export interface PoolStats {
  /** Percent of 5xx over the watcher's window; undefined until it has enough requests. */
  errorRate: number | undefined;
  p95Ms: number | undefined;
  samples: number;
  /** Requests that failed on this pool and a retry on the other answered, over the last 5 minutes: counted, not paged. */
  retried5m: number;
}

export interface OperationsSettings {
  envName: string;
  /** Deadline of one health probe for the health gate. */
  healthTimeoutMs: number;
  /** How long a switch waits for nginx to serve the target. */
  verifyTimeoutMs: number;
  /** How long deploy waits for the new release to be healthy. */
  deployHealthTimeoutMs: number;
  maintenanceDefaultMs: number;
  /** Release ids configured for the pools, when the engine does not tell. */
  releaseIds: Partial<Record<Pool, string>>;
  /** How long a chaos fault lasts when no `for` is given, and the longest allowed. */
  chaosDefaultMs: number;
  chaosMaxMs: number;
  /** The image of the network-fault helper (loss, delay); undefined: those kinds are refused. */
  chaosNetImage?: string | undefined;
}

/** What chaos needs of the Docker API: act on a container by id, and see its state. */
export interface ContainerFaults {
  kill(id: string): Promise<void>;
  stop(id: string): Promise<void>;
  start(id: string): Promise<void>;
  pause(id: string): Promise<void>;
  unpause(id: string): Promise<void>;
  inspect(id: string): Promise<{ name: string; state: string; labels: Readonly<Record<string, string>> }>;
  /** A helper container in `joinNetworkOf`'s network namespace (the network faults); its id. */
  runHelper(spec: { image: string; args: readonly string[]; joinNetworkOf: string; capAdd: readonly string[]; labels: Readonly<Record<string, string>> }): Promise<string>;
  logs(id: string): Promise<string>;
  remove(id: string): Promise<void>;
}

export interface OperationsDeps {
  /** The engine that runs the pools, chosen once (select-engine.ts); rejects when Docker cannot tell. */
  engine: () => Promise<DeployEngine>;
  nginx: NginxControl;
  pools: PoolClient;
  /** Docker-level chaos (kill, stop, pause); absent: those kinds fail with DOCKER_UNAVAILABLE. */
  containers?: ContainerFaults;
  store: StateStore;
  lock: OpLock;
  raise: (alert: AlertEvent) => void | Promise<void>;
  settings: OperationsSettings;
  log: Logger;
  metrics?: Metrics;
  /** The watcher's current view of a pool. */
  poolStats?: (pool: Pool) => PoolStats | undefined;
  /** Told after every switch that moved traffic (the post-switch guard listens). */
  onSwitched?: (record: SwitchRecord) => void;
  now?: () => number;
}

export interface UseCaseContext extends OperationsDeps {
  now: () => number;
  iso: () => string;
  /** Lock, time, audit, and turn operational errors into results. */
  audited<T>(op: string, args: Record<string, unknown>, by: Actor, fn: () => Promise<OpResult<T>>): Promise<OpResult<T>>;
  /**
   * The health gate of switch and chaos. A pool that answers (503 included) is judged at once; one
   * that does not answer in time is asked once more, so a busy moment is not taken for an outage.
   */
  gateProbe(pool: Pool): Promise<PoolProbe>;
  /** The release a pool runs, best effort: the engine's word, else the configured id. */
  releaseOf(pool: Pool): Promise<string | undefined>;
  /**
   * Tells nginx the release each pool runs (the access log's `release`), best effort: false, with
   * the problem logged, when nginx could not take it.
   */
  publishReleases(): Promise<boolean>;
}

export const quiet: Progress = () => undefined;
export const who = (a: Actor) => a.name ?? a.id;

function isMaintenanceState(d: unknown): d is MaintenanceState {
  return typeof d === 'object' && d !== null && 'on' in d && 'page' in d && 'until' in d;
}

function isSwitch(d: unknown): d is { from: Pool; to: Pool; ms: number; changed: boolean; release?: string | undefined } {
  return typeof d === 'object' && d !== null && 'from' in d && 'to' in d && 'changed' in d;
}

export function createContext(deps: OperationsDeps): UseCaseContext {
  const { lock, store, log, pools, settings } = deps;
  const now = deps.now ?? Date.now;
  const iso = () => new Date(now()).toISOString();

  async function audited<T>(op: string, args: Record<string, unknown>, by: Actor, fn: () => Promise<OpResult<T>>): Promise<OpResult<T>> {
    const started = performance.now();
    let result: OpResult<T>;
    try {
      result = await lock.run(op, by, fn);
    } catch (err) {
      if (err instanceof BluegreenError && err.code === 'LOCKED') result = refused(describeError(err));
      else if (err instanceof BluegreenError) result = failed(`${op} failed: ${err.message}`, err.hint ? `${err.code}: ${err.hint}` : err.code);
      else throw err;
    }
    const durationMs = Math.round(performance.now() - started);
    const message = result.status === 'refused' ? result.reason : result.message;
    log.info({ op, args, by, result: result.status, durationMs }, message);
    const moved = result.status === 'ok' && isSwitch(result.data) && result.data.changed ? result.data : undefined;
    const maintenance = op === 'maintenance' && result.status === 'ok' && isMaintenanceState(result.data) ? result.data : undefined;
    try {
      await store.audit({
        at: iso(),
        by,
        op,
        args,
        result: result.status,
        message,
        durationMs,
        ...(moved ? { switch: { from: moved.from, to: moved.to, ms: moved.ms, release: moved.release } } : {}),
        ...(maintenance ? { maintenance } : {}),
      });
    } catch (err) {
      log.error({ err, op }, 'audit write failed');
    }
    return result;
  }

  async function gateProbe(pool: Pool) {
    const first = await pools.health(pool, settings.healthTimeoutMs);
    const silent = first.targets.some((t) => t.outcome === 'slow' || t.outcome === 'unreachable');
    return first.healthy || !silent ? first : pools.health(pool, settings.healthTimeoutMs);
  }

  async function releaseOf(pool: Pool): Promise<string | undefined> {
    try {
      return (await (await deps.engine()).release(pool)) ?? settings.releaseIds[pool];
    } catch {
      return settings.releaseIds[pool];
    }
  }

  async function publishReleases(): Promise<boolean> {
    const releases = { blue: await releaseOf('blue'), green: await releaseOf('green') };
    try {
      const how = await deps.nginx.publishReleases(releases);
      log.info({ releases, nginx: how }, 'nginx names the releases in its access log');
      return true;
    } catch (err) {
      log.warn({ releases, problem: describeError(err) }, "nginx could not take the release names; the access log's release falls back to the app's X-Release-Id");
      return false;
    }
  }

  return { ...deps, now, iso, audited, gateProbe, releaseOf, publishReleases };
}
