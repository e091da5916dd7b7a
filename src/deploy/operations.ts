import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { BluegreenError, describeError } from '../errors.js';
import { otherPool, POOLS, serviceOf, type Pool } from '../pool.js';
import type { AlertEvent } from '../shared/alert.js';
import { operationalAlert } from '../shared/alert.js';
import type { ContainerEngine, ContainerInfo } from './docker/container-engine.js';
import { describeVerification, type NginxControl } from './nginx/nginx-control.js';
import { replacePoolContainer } from './compose/replace-pool-container.js';
import type { LockHolder, OpLock } from './state/op-lock.js';
import type { ChaosMode, PoolClient } from './pools/pool-client.js';
import { failed, ok, refused, type OpResult } from '../shared/op-result.js';
import type { Actor } from '../shared/actor.js';
import type { Progress } from '../shared/progress.js';
import type { MaintenanceState } from '../shared/maintenance-state.js';
import type { DeployState, StateStore, SwitchRecord } from './state/state-store.js';
import { describePerNode, servingTasks, swarmPoolStatus, tasksPerNode, type ClusterSnapshot, type PoolTask, type ScaleData, type SwarmPoolStatus } from './swarm/cluster.js';
import type { HttpProbe } from './pools/probe-http.js';
import { rebalance as spreadPool, type RebalanceOutcome } from './swarm/swarm-rebalance.js';
import type { SwarmControl } from './swarm/swarm-control.js';
import { rollOut, scaleTo, taskErrors } from './swarm/swarm-rollout.js';

// The use cases of deploy control, in the order an operator meets them. Every mutating operation
// runs under the one lock, is audited, and returns an OpResult; nothing operational throws past here.

export interface PoolStats {
  /** Percent of 5xx over the watcher's window; undefined until it has enough requests. */
  errorRate: number | undefined;
  p95Ms: number | undefined;
  samples: number;
  /** Requests that failed on this pool and a retry on the other answered, over the last 5 minutes: counted, not paged. */
  retried5m: number;
}

export interface SwarmHandle {
  control: SwarmControl;
  /** How often a deploy or scale reads the swarm while following it [1000]. */
  pollMs?: number;
  /** One health probe of a task, over HTTP from outside (deploy's gate). */
  probeTask?: (task: PoolTask, timeoutMs: number) => Promise<HttpProbe>;
  /** nginx sends traffic to the task now (it is one of nginx's members). */
  serves?: (task: PoolTask) => Promise<boolean>;
}

export interface OperationsSettings {
  envName: string;
  /** Deadline of one /healthz probe for the health gate. */
  healthTimeoutMs: number;
  /** How long a switch waits for nginx to serve the target. */
  verifyTimeoutMs: number;
  /** How long deploy waits for the new container to be healthy. */
  deployHealthTimeoutMs: number;
  /**
   * How long deploy waits for nginx to serve the active pool steadily before it replaces the idle
   * one [15 s: nginx's default FAIL_TIMEOUT of 5 s, three times]. */
  deployQuietWaitMs?: number;
  maintenanceDefaultMs: number;
  /** Release ids configured for the pools, when the container does not tell. */
  releaseIds: Partial<Record<Pool, string>>;
}

export interface OperationsDeps {
  engine: ContainerEngine;
  project: () => Promise<string>;
  /**
   * Swarm mode: resolves to the stack's control when the pools are Swarm services (configured or
   * detected), to undefined under Compose. Status, deploy, scale and releases go through it.
   */
  swarm?: (() => Promise<SwarmHandle | undefined>) | undefined;
  nginx: NginxControl;
  pools: PoolClient;
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

export interface PoolStatus {
  pool: Pool;
  active: boolean;
  container: { name: string; state: string; health: string; image: string; startedAt: string | undefined; uptimeSec: number | undefined } | undefined;
  /** Why container facts are missing (Docker socket, container gone). */
  containerError: string | undefined;
  release: string | undefined;
  healthy: boolean;
  healthDetail: string;
  chaos: ChaosMode | null | undefined;
  stats: PoolStats | undefined;
  /** Swarm mode: the pool's service, its tasks and any rolling update (container is then undefined). */
  swarm?: SwarmPoolStatus | undefined;
}

export interface StatusReport {
  env: string;
  active: Pool;
  pools: PoolStatus[];
  maintenance: MaintenanceState;
  lastSwitch: SwitchRecord | undefined;
  lastFailover: SwitchRecord | undefined;
  previousPool: Pool | undefined;
  lock: LockHolder | undefined;
  docker: { ok: true; project: string } | { ok: false; error: string };
}

export interface SwitchData {
  from: Pool;
  to: Pool;
  /** Command to nginx serving the target, verified through nginx. */
  ms: number;
  changed: boolean;
  /** The release now serving, when known. */
  release?: string | undefined;
}

function isMaintenanceState(d: unknown): d is MaintenanceState {
  return typeof d === 'object' && d !== null && 'on' in d && 'page' in d && 'until' in d;
}

function isSwitchData(d: unknown): d is SwitchData {
  return typeof d === 'object' && d !== null && 'from' in d && 'to' in d && 'changed' in d;
}

export type SwitchKind = SwitchRecord['kind'];

/** `maintenance` (show): the recorded state and nginx's truth about the page. */
export interface MaintenanceReport extends MaintenanceState {
  /** The maintenance-page flag file is there: nginx answers public requests with the page. */
  pageFlag: boolean;
}

/** Longest maintenance from now, also after an extension (the grammar's limit). */
const MAX_MAINTENANCE_MS = 7 * 24 * 3_600_000;

const quiet: Progress = () => undefined;

export interface Operations {
  status(): Promise<OpResult<StatusReport>>;
  switchPool(target: Pool, opts: { force: boolean; by: Actor; kind?: SwitchKind; reason?: string; progress?: Progress }): Promise<OpResult<SwitchData>>;
  /**
   * Back to the pool that was active before the last switch. `expect`: the pool a button promised
   * ("Roll back to blue"); refused when the last switch no longer leads back there.
   */
  rollback(by: Actor, opts?: { kind?: SwitchKind; reason?: string; progress?: Progress; expect?: Pool }): Promise<OpResult<SwitchData>>;
  startChaos(pool: Pool, mode: ChaosMode, opts: { force: boolean; by: Actor }): Promise<OpResult>;
  stopChaos(pool: Pool, by: Actor): Promise<OpResult>;
  /**
   * On: quiet mode (non-critical alerts held back) until now + durationMs [the default length].
   * `page` true puts the maintenance page up, false takes it down, undefined keeps it as it is: an
   * `on` typed (or a button pressed) to lengthen quiet mode never lets users into a site that is
   * half-way through its maintenance. Off: ends both.
   */
  setMaintenance(
    on: boolean,
    opts: { by: Actor; durationMs?: number | undefined; page?: boolean | undefined; reason?: string | undefined },
  ): Promise<OpResult<MaintenanceState>>;
  /** Moves the end of the maintenance under way; refused when maintenance is off. */
  extendMaintenance(ms: number, opts: { by: Actor }): Promise<OpResult<MaintenanceState>>;
  /** Maintenance as recorded, and whether nginx's page flag is there. */
  showMaintenance(): Promise<OpResult<MaintenanceReport>>;
  /** Ends maintenance whose time is up, page included; called by a timer. */
  expireMaintenance(): Promise<boolean>;
  /**
   * MAINTENANCE_MODE=true at the first start: maintenance on for the default length, unless anyone
   * has ever turned maintenance on or off (then commands own it). True when it turned it on.
   */
  seedMaintenance(): Promise<boolean>;
  /**
   * Swarm mode: when the pool's tasks all sit on one node, moves one to another node (the keeper in
   * create-deploy-layer.ts calls it after a node returns); refused in Compose mode.
   */
  rebalance(pool: Pool, opts: { by: Actor; progress?: Progress }): Promise<OpResult<{ moved: boolean }>>;
  /** Swarm mode: sets the pool's replicas and waits until they run; refused in Compose mode. */
  scale(pool: Pool, replicas: number, opts: { force: boolean; by: Actor; progress?: Progress }): Promise<OpResult<ScaleData>>;
  deploy(
    pool: Pool,
    image: string,
    opts: { releaseId?: string | undefined; by: Actor; progress?: Progress },
  ): Promise<OpResult<{ container: string; release: string | undefined }>>;
  /** The active pool as nginx sees it. */
  activePool(): Promise<Pool>;
  readState(): Promise<DeployState>;
}

const who = (a: Actor) => a.name ?? a.id;
const offState = (by: Actor): MaintenanceState => ({ on: false, since: undefined, until: undefined, by, reason: undefined, page: false });
const span = (ms: number) => (ms < 60_000 ? `${Math.round(ms / 1000)} s` : ms < 7_200_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 360_000) / 10} h`);

export function createOperations(deps: OperationsDeps): Operations {
  const { engine, nginx, pools, store, lock, settings, log } = deps;
  const now = deps.now ?? Date.now;
  const iso = () => new Date(now()).toISOString();

  /** Lock, time, audit, and turn operational errors into results. */
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
    const moved = result.status === 'ok' && isSwitchData(result.data) && result.data.changed ? result.data : undefined;
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

  async function containerOf(pool: Pool): Promise<ContainerInfo> {
    const project = await deps.project();
    const [c] = await engine.list(project, serviceOf(pool));
    if (!c) throw new BluegreenError('CONTAINER_NOT_FOUND', `no ${serviceOf(pool)} container in compose project ${project}`, { hint: 'docker-compose up -d' });
    return c;
  }

  /**
   * The health gate of switch and chaos. A pool that answers (503 included) is judged at once; one
   * that does not answer in time is asked once more, so a busy moment is not taken for an outage.
   */
  async function gateProbe(pool: Pool) {
    const first = await pools.health(pool, settings.healthTimeoutMs);
    const silent = first.targets.some((t) => t.outcome === 'slow' || t.outcome === 'unreachable');
    return first.healthy || !silent ? first : pools.health(pool, settings.healthTimeoutMs);
  }

  async function doSwitch(target: Pool, force: boolean, by: Actor, kind: SwitchKind, reason: string | undefined, say: Progress): Promise<OpResult<SwitchData>> {
    const from = await nginx.activePool();
    if (from === target) return ok(`${target} is already active; nothing changed`, { from, to: target, ms: 0, changed: false });

    say(`health check of ${target}`);
    const probe = await gateProbe(target);
    say(`${target} is ${probe.healthy ? 'healthy' : `unhealthy (${probe.detail})`}`);
    if (!probe.healthy && !force) {
      return refused(`${target} is unhealthy (${probe.detail}); switching would send traffic to a failing pool. Add --force to switch anyway`);
    }
    const started = performance.now();
    await nginx.setActive(target);
    say(`nginx told to send traffic to ${target}; waiting until it does`);
    const verified = await nginx.verifyServing(target, settings.verifyTimeoutMs);
    if (verified.ms === undefined && probe.healthy) {
      // nginx does not route to the target although it answers: put the flags back as they were,
      // and say what nginx saw (a release that passes /healthz and fails real requests, a pool
      // nginx benched, a flag folder nginx does not share).
      const why = describeVerification(verified, target);
      say(`nginx did not serve ${target} within ${settings.verifyTimeoutMs} ms (${why}): restoring ${from}`);
      await nginx.setActive(from);
      deps.metrics?.switches.inc({ kind, result: 'failed' });
      const sawTarget = verified.answered > 0 || verified.benched > 0 || Object.keys(verified.failedOver).length > 0;
      return failed(
        `nginx did not serve ${target} steadily while being checked: ${why}; traffic stays on ${from}, nothing changed`,
        sawTarget ? `look at ${target}'s logs: it passes /healthz but fails requests` : 'is nginx up, and does it share the flag-file folder (NGINX_STATE_DIR) with the bot?',
      );
    }
    const ms = Math.round(verified.ms ?? performance.now() - started);
    const record: SwitchRecord = { kind, from, to: target, at: iso(), by, ...(reason ? { reason } : {}) };
    await store.update((s) => {
      s.previousPool = from;
      s.lastSwitch = record;
      if (kind === 'failover') s.lastFailover = record;
    });
    deps.metrics?.switches.inc({ kind, result: 'ok' });
    deps.onSwitched?.(record);
    const release = await releaseOf(target);
    const verb = kind === 'rollback' || kind === 'guard_rollback' ? 'Rolled back' : kind === 'failover' ? 'Failed over' : 'Switched';
    const misses = verified.checks - verified.answered;
    const shaky = misses > 0 && verified.ms !== undefined ? `; ${describeVerification(verified, target)} while being checked: the post-switch guard is watching` : '';
    const tail = probe.healthy ? `nginx serves ${target} (${ms} ms)${shaky}` : `forced while ${target} is unhealthy (${probe.detail}); nginx serves its backup ${from} until ${target} recovers`;
    return ok(`${verb} ${from} -> ${target}: ${tail}`, { from, to: target, ms, changed: true, release });
  }

  /** The release a pool runs, best effort: its container's RELEASE_ID, else the configured id. */
  async function releaseOf(pool: Pool): Promise<string | undefined> {
    try {
      const sw = await deps.swarm?.();
      if (sw) return (await sw.control.snapshot()).pools[pool].release ?? settings.releaseIds[pool];
      return (await containerOf(pool)).env.RELEASE_ID ?? settings.releaseIds[pool];
    } catch {
      return settings.releaseIds[pool];
    }
  }

  /** After the page flag changed: nginx confirms it, or the result says it did not. */
  async function pageChange(on: boolean): Promise<string> {
    const ms = await nginx.verifyPage(on, settings.verifyTimeoutMs);
    if (ms === undefined) {
      return `; the maintenance-page flag is ${on ? 'set' : 'removed'}, but nginx did not confirm it within ${settings.verifyTimeoutMs} ms (is nginx up, and does it share NGINX_STATE_DIR with the bot?)`;
    }
    return on ? `; nginx serves the maintenance page (${Math.round(ms)} ms)` : `; the maintenance page is down, the pools serve again (${Math.round(ms)} ms)`;
  }

  /** Compose mode: each pool's container, by its compose service label. */
  async function poolContainers(project: string): Promise<Map<Pool, ContainerInfo>> {
    const out = new Map<Pool, ContainerInfo>();
    for (const c of await engine.list(project)) for (const p of POOLS) if (c.service === serviceOf(p)) out.set(p, c);
    return out;
  }

  async function poolStatus(pool: Pool, active: Pool, containers: Map<Pool, ContainerInfo> | ClusterSnapshot | Error): Promise<PoolStatus> {
    const [probe, chaos] = await Promise.all([pools.health(pool, settings.healthTimeoutMs), pools.chaos(pool).catch(() => undefined)]);
    const swarm = containers instanceof Map || containers instanceof Error ? undefined : swarmPoolStatus(containers, pool);
    const c = containers instanceof Map ? containers.get(pool) : undefined;
    const containerError = containers instanceof Error ? describeError(containers) : c || swarm ? undefined : `no ${serviceOf(pool)} container`;
    return {
      pool,
      active: pool === active,
      container: c && {
        name: c.name,
        state: c.state,
        health: c.health,
        image: c.image,
        startedAt: c.startedAt,
        uptimeSec: c.startedAt && c.state === 'running' ? Math.max(0, Math.round((now() - Date.parse(c.startedAt)) / 1000)) : undefined,
      },
      containerError,
      release: c?.env.RELEASE_ID ?? swarm?.release ?? settings.releaseIds[pool],
      healthy: probe.healthy,
      healthDetail: probe.detail,
      chaos,
      stats: deps.poolStats?.(pool),
      ...(swarm ? { swarm } : {}),
    };
  }

  /** Swarm mode's deploy: Swarm's own rolling update of the idle pool's service, followed to its end. */
  async function deploySwarm(sw: SwarmHandle, pool: Pool, image: string, releaseId: string | undefined, by: Actor, active: Pool, say: Progress) {
    const { control, pollMs } = sw;
    const env: Record<string, string> = releaseId ? { RELEASE_ID: releaseId } : {};
    // Swarm replaces one task at a time: each may take as long as a Compose deploy's one container.
    const timeoutMs = settings.deployHealthTimeoutMs * Math.max(1, (await control.snapshot()).pools[pool].desired);
    const probeTask = sw.probeTask;
    const health = probeTask && { probe: (t: PoolTask) => probeTask(t, settings.healthTimeoutMs), timeoutMs: settings.deployHealthTimeoutMs };
    const r = await rollOut(pool, image, env, { control, timeoutMs, say, ...(pollMs ? { pollMs } : {}), ...(health ? { health } : {}) });
    const svc = r.snapshot.pools[pool];
    const release = svc.release;
    const tasks = `${servingTasks(r.snapshot, svc).length} of ${svc.desired} tasks running (${describePerNode(tasksPerNode(r.snapshot, svc))})`;
    if (r.kind === 'completed') {
      await store.update((s) => {
        s.releases[pool] = { image, releaseId: release, at: iso(), by };
      });
      const spread = await spreadAfter(sw, pool, say);
      return ok(`Deployed ${image}${release ? ` (release ${release})` : ''} to ${pool}: Swarm's rolling update completed, ${spread.text}; it is idle. Switch to it with: switch ${pool}`, {
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
      return failed(`deploy of ${image} to ${pool} stopped: Swarm ${r.update.state === 'paused' ? 'paused the update' : 'paused its rollback'} (${why}); ${tasks}; ${active} keeps serving`, `docker service ps ${svc.service} --no-trunc; docker service rollback ${svc.service}`);
    }
    return failed(
      `deploy of ${image} to ${pool} did not end within ${Math.round(timeoutMs / 1000)} s (update ${r.update?.state ?? 'not started'}); Swarm goes on with it; ${tasks}; ${active} keeps serving`,
      `bluegreen status, or docker service ps ${svc.service}`,
    );
  }

  /**
   * After a deploy or a scale: when the pool's tasks all sit on one node, move one to another
   * (swarm-rebalance.ts). Returns what the answer should say about where the tasks run.
   */
  async function spreadAfter(sw: SwarmHandle, pool: Pool, say: Progress): Promise<{ text: string; snapshot: ClusterSnapshot; kind: RebalanceOutcome['kind'] }> {
    const r = await spreadPool(pool, {
      control: sw.control,
      serves: sw.serves ?? (() => Promise.resolve(true)),
      timeoutMs: settings.deployHealthTimeoutMs,
      say,
      ...(sw.pollMs ? { pollMs: sw.pollMs } : {}),
    });
    const svc = r.snapshot.pools[pool];
    const where = `${servingTasks(r.snapshot, svc).length} of ${svc.desired} tasks running (${describePerNode(tasksPerNode(r.snapshot, svc))})`;
    const text =
      r.kind === 'moved'
        ? `${where}; moved one task from ${r.from} to ${r.to} so that losing one node leaves ${pool} serving`
        : r.kind === 'failed'
          ? `${where}; all on one node: spreading them failed (${r.why})`
          : where;
    return { text, snapshot: r.snapshot, kind: r.kind };
  }

  const ops: Operations = {
    activePool: () => nginx.activePool(),
    readState: () => store.read(),

    async status() {
      try {
        const [active, state, holder] = await Promise.all([nginx.activePool(), store.read(), lock.holder()]);
        let project = '';
        let containers: Map<Pool, ContainerInfo> | ClusterSnapshot | Error;
        try {
          const sw = await deps.swarm?.();
          project = sw ? sw.control.stack : await deps.project();
          containers = sw ? await sw.control.snapshot() : await poolContainers(project);
        } catch (err) {
          if (!(err instanceof BluegreenError)) throw err;
          containers = err;
        }
        const poolRows = await Promise.all(POOLS.map((p) => poolStatus(p, active, containers)));
        const report: StatusReport = {
          env: settings.envName,
          active,
          pools: poolRows,
          maintenance: state.maintenance,
          lastSwitch: state.lastSwitch,
          lastFailover: state.lastFailover,
          previousPool: state.previousPool,
          lock: holder,
          docker: containers instanceof Error ? { ok: false, error: describeError(containers) } : { ok: true, project },
        };
        const health = poolRows.map((p) => `${p.pool} ${p.healthy ? 'healthy' : `unhealthy (${p.healthDetail})`}`).join(', ');
        return ok(`active: ${active}; ${health}`, report);
      } catch (err) {
        if (err instanceof BluegreenError) return failed(`status failed: ${err.message}`, err.hint);
        throw err;
      }
    },

    switchPool(target, { force, by, kind = 'switch', reason, progress = quiet }) {
      return audited(kind, { pool: target, force }, by, () => doSwitch(target, force, by, kind, reason, progress));
    },

    rollback(by, opts = {}) {
      const kind = opts.kind ?? 'rollback';
      return audited(kind, opts.expect ? { to: opts.expect } : {}, by, async () => {
        const state = await store.read();
        const target = state.previousPool;
        if (!target) return refused('nothing to roll back to: no switch has been recorded yet');
        if (opts.expect && opts.expect !== target) {
          const last = state.lastSwitch;
          const since = last ? `: the last switch was ${last.from} -> ${last.to} by ${who(last.by)} at ${last.at}` : '';
          return refused(`rolling back now would go to ${target}, not ${opts.expect}${since}. Use switch ${opts.expect} if that is what you want`);
        }
        // An operator rolling back in an incident is not made to wait on the health gate; nginx's
        // backup still covers a target that is down.
        return doSwitch(target, true, by, kind, opts.reason, opts.progress ?? quiet);
      });
    },

    startChaos(pool, mode, { force, by }) {
      return audited('chaos_start', { pool, mode, force }, by, async () => {
        const active = await nginx.activePool();
        if (pool === active && !force) {
          const backup = await gateProbe(otherPool(pool));
          if (!backup.healthy) {
            return refused(`${pool} is active and the backup ${otherPool(pool)} is unhealthy (${backup.detail}): chaos would be an outage. Add --force to start it anyway`);
          }
        }
        await pools.startChaos(pool, mode);
        return ok(`Chaos (${mode}) started on ${pool}${pool === active ? ' (the active pool)' : ''}`);
      });
    },

    stopChaos(pool, by) {
      return audited('chaos_stop', { pool }, by, async () => {
        await pools.stopChaos(pool);
        return ok(`Chaos stopped on ${pool}`);
      });
    },

    setMaintenance(on, { by, durationMs, page, reason }) {
      const args = on ? { on, durationMs, ...(page === undefined ? {} : { page }), ...(reason ? { reason } : {}) } : { on };
      return audited('maintenance', args, by, async () => {
        const before = (await store.read()).maintenance;
        const flagBefore = await nginx.maintenancePage();
        const wantPage = on && (page ?? (before.on && before.page));
        // The flag first: if it cannot be written, nothing is recorded. If the record then fails,
        // the flag goes back, so nginx never shows a page the bot does not know about (no expiry).
        if (wantPage !== flagBefore) await nginx.setMaintenancePage(wantPage);
        let state: DeployState;
        try {
          state = await store.update((s) => {
            const cur = s.maintenance;
            s.maintenance = on
              ? {
                  on: true,
                  since: cur.on ? cur.since : iso(),
                  until: new Date(now() + (durationMs ?? settings.maintenanceDefaultMs)).toISOString(),
                  by,
                  reason: reason ?? (cur.on ? cur.reason : undefined),
                  page: wantPage,
                }
              : offState(by);
          });
        } catch (err) {
          if (wantPage !== flagBefore) await nginx.setMaintenancePage(flagBefore).catch(() => undefined);
          throw err;
        }
        const m = state.maintenance;
        const pageNote = wantPage !== flagBefore ? await pageChange(wantPage) : wantPage ? '; the maintenance page stays up' : '';
        if (!on) {
          return ok(before.on || flagBefore ? `Maintenance off: alerts are live again${pageNote}` : `Maintenance was already off; nothing changed${pageNote}`, m);
        }
        return ok(`Maintenance on until ${m.until}${m.reason ? ` (${m.reason})` : ''}: non-critical alerts are held back${pageNote}`, m);
      });
    },

    extendMaintenance(ms, { by }) {
      return audited('maintenance', { extendMs: ms }, by, async () => {
        const cur = (await store.read()).maintenance;
        if (!cur.on || cur.until === undefined) return refused('maintenance is off: there is nothing to extend. Start it with: maintenance on for 30m');
        const until = Math.max(Date.parse(cur.until), now()) + ms;
        if (until - now() > MAX_MAINTENANCE_MS) {
          return refused(`maintenance can last at most 7 days from now; extending by ${span(ms)} would end it at ${new Date(until).toISOString()}`);
        }
        const state = await store.update((s) => {
          s.maintenance.until = new Date(until).toISOString();
        });
        const m = state.maintenance;
        return ok(`Maintenance extended by ${span(ms)}: now until ${m.until}${m.page ? '; the maintenance page stays up' : ''}`, m);
      });
    },

    async showMaintenance() {
      try {
        const [state, pageFlag] = await Promise.all([store.read(), nginx.maintenancePage()]);
        const m = state.maintenance;
        const by = m.by ? who(m.by) : 'someone';
        const text = m.on
          ? `Maintenance on since ${m.since} until ${m.until}, by ${by}${m.reason ? ` (${m.reason})` : ''}; maintenance page ${m.page ? 'up' : 'down'}`
          : 'Maintenance is off';
        // The flag is nginx's truth; say so when it and the record disagree (a hand-made flag).
        const mismatch = pageFlag !== m.page ? `; nginx's maintenance-page flag is ${pageFlag ? 'there' : 'missing'} although the record says the page is ${m.page ? 'up' : 'down'}` : '';
        return ok(`${text}${mismatch}`, { ...m, pageFlag });
      } catch (err) {
        if (err instanceof BluegreenError) return failed(`maintenance failed: ${err.message}`, err.hint);
        throw err;
      }
    },

    async seedMaintenance() {
      if ((await store.read()).maintenance.by !== undefined) return false;
      const seed: Actor = { kind: 'auto', id: 'MAINTENANCE_MODE', name: 'MAINTENANCE_MODE at first start' };
      const r = await ops.setMaintenance(true, { by: seed });
      return r.status === 'ok';
    },

    async expireMaintenance() {
      const due = (m: MaintenanceState) => m.on && m.until !== undefined && Date.parse(m.until) <= now();
      if (!due((await store.read()).maintenance)) return false;
      const auto: Actor = { kind: 'auto', id: 'maintenance-timer', name: 'maintenance timer' };
      let ended: MaintenanceState | undefined;
      const r = await audited('maintenance', { on: false, expired: true }, auto, async () => {
        // Read again under the lock: an extend or an off may have come first.
        const cur = (await store.read()).maintenance;
        if (!due(cur)) return refused('maintenance was extended or ended meanwhile; nothing expired');
        if (cur.page || (await nginx.maintenancePage())) await nginx.setMaintenancePage(false);
        await store.update((s) => {
          s.maintenance = offState(auto);
        });
        ended = cur;
        return ok(`Maintenance ended: it expired at ${cur.until}${cur.page ? '; the maintenance page is down' : ''}`, offState(auto));
      });
      if (r.status === 'ok' && ended) {
        const m: MaintenanceState = ended;
        await deps.raise(
          operationalAlert({
            kind: 'maintenance_expired',
            status: 'resolved',
            severity: 'info',
            pool: undefined,
            env: settings.envName,
            title: 'Maintenance ended',
            summary: `Maintenance started by ${m.by ? who(m.by) : 'someone'}${m.reason ? ` (${m.reason})` : ''} expired at ${m.until}; alerts are live again${m.page ? ' and the maintenance page is down' : ''}.`,
            at: iso(),
            firstAt: m.since ?? iso(),
          }),
        );
      }
      return r.status === 'ok';
    },

    rebalance(pool, { by, progress: say = quiet }) {
      return audited('rebalance', { pool }, by, async (): Promise<OpResult<{ moved: boolean }>> => {
        const sw = await deps.swarm?.();
        if (!sw) return refused(`rebalance needs Swarm mode: under Compose each pool is one container`);
        const r = await spreadAfter(sw, pool, say);
        if (r.kind === 'failed') return failed(`${pool}: ${r.text}`, 'docker service ps shows where Swarm placed the tasks');
        return ok(`${pool}: ${r.text}`, { moved: r.kind === 'moved' });
      });
    },

    scale(pool, replicas, { force, by, progress: say = quiet }) {
      return audited('scale', { pool, replicas, force }, by, async (): Promise<OpResult<ScaleData>> => {
        const sw = await deps.swarm?.();
        if (!sw) return refused(`scale needs Swarm mode: under Compose each pool is one container (scale ${pool} ${replicas} was not run)`);
        const active = await nginx.activePool();
        if (replicas === 0 && pool === active && !force) {
          return refused(`${pool} is the active pool: with 0 tasks every request would go to the backup ${otherPool(pool)}. Switch first, or add --force`);
        }
        const r = await scaleTo(pool, replicas, { control: sw.control, timeoutMs: settings.deployHealthTimeoutMs, say, ...(sw.pollMs ? { pollMs: sw.pollMs } : {}) });
        const svc = r.snapshot.pools[pool];
        const perNode = tasksPerNode(r.snapshot, svc);
        const data: ScaleData = { pool, previous: r.previous, desired: replicas, running: servingTasks(r.snapshot, svc).length, perNode };
        if (r.kind === 'done') {
          // More tasks may all land on one node; fewer are taken from the node with the most.
          const spread = replicas > r.previous ? await spreadAfter(sw, pool, say) : undefined;
          if (spread) data.perNode = tasksPerNode(spread.snapshot, spread.snapshot.pools[pool]);
          return ok(`Scaled ${pool} from ${r.previous} to ${replicas}: ${spread?.text ?? `${data.running} running (${describePerNode(perNode)})`}`, data);
        }
        const errors = taskErrors(r.snapshot, pool);
        return failed(
          `Scaled ${pool} from ${r.previous} to ${replicas}, but ${data.running} of ${replicas} run after ${Math.round(settings.deployHealthTimeoutMs / 1000)} s (${describePerNode(perNode)})${errors.length ? `: ${errors.join('; ')}` : ''}; Swarm keeps trying`,
          `docker service ps ${svc.service} --no-trunc`,
        );
      });
    },

    deploy(pool, image, { releaseId, by, progress: say = quiet }) {
      return audited('deploy', { pool, image, releaseId }, by, async () => {
        const active = await nginx.activePool();
        if (pool === active) {
          return refused(`${pool} is the active pool; deploy goes to the idle pool (${otherPool(pool)}), then switch`);
        }
        // A config nginx already rejects could not take the new container: check before touching anything.
        await nginx.testConfig();
        say('nginx config test passed');
        const sw = await deps.swarm?.();
        if (sw) return deploySwarm(sw, pool, image, releaseId, by, active, say);
        say(`pulling ${image}`);
        const pulled = await engine.pull(image);
        if (!pulled && !(await engine.imageExists(image))) {
          return failed(`image ${image} could not be pulled and is not present locally`, 'docker tag an existing image, or check the name');
        }
        say(pulled ? `pulled ${image}` : `not pulled; using the local ${image}`);
        // The idle pool must really be idle: when nginx has benched the active pool (it failed a
        // moment ago: chaos, a blip), the idle pool is the one answering, and replacing it would
        // leave those requests nothing to go to. Wait until the active pool serves again.
        say(`checking that nginx serves ${active}, so ${pool} carries no traffic`);
        const quietWaitMs = settings.deployQuietWaitMs ?? 15_000;
        const quiet = await nginx.verifyServing(active, quietWaitMs, { steady: true });
        if (quiet.ms === undefined) {
          return refused(
            `${pool} is carrying traffic: nginx did not serve ${active} steadily for ${Math.round(quietWaitMs / 1000)} s (${describeVerification(quiet, active)}); replacing ${pool} now would fail those requests. Nothing changed. Deploy again once ${active} serves (status shows it), or switch to ${pool} and deploy to ${active}`,
          );
        }
        say(`nginx serves ${active}`);
        const old = await containerOf(pool);
        const env: Record<string, string> = releaseId ? { RELEASE_ID: releaseId } : {};
        say(`replacing ${old.name} with ${image}${releaseId ? ` (release ${releaseId})` : ''}; it keeps serving until the new one is healthy`);
        const r = await replacePoolContainer({ engine, nginx, old, image, env, healthTimeoutMs: settings.deployHealthTimeoutMs, say });
        if (!r.ok) {
          const kept = old.env.RELEASE_ID ? `${old.name} (release ${old.env.RELEASE_ID})` : old.name;
          const serving = r.restoreProblems.length === 0
            ? `the old release keeps serving: ${kept}, unchanged, as nginx's ${pool} backup`
            : `putting the old release back also failed (${r.restoreProblems.join('; ')}): check ${pool} with status`;
          return failed(`deploy of ${image} to ${pool} failed at "${r.step}": ${describeError(r.error)}; ${serving}`, r.error);
        }
        const healthy = r.fresh;
        const release = healthy.env.RELEASE_ID;
        await store.update((s) => {
          s.releases[pool] = { image, releaseId: release, at: iso(), by };
        });
        return ok(
          `Deployed ${image}${release ? ` (release ${release})` : ''} to ${pool} (${pulled ? 'pulled' : 'local image'}); it is healthy and idle. Switch to it with: switch ${pool}${
            r.leftovers.length ? ` (clean-up left: ${r.leftovers.join('; ')})` : ''
          }`,
          { container: healthy.name, release },
        );
      });
    },
  };
  return ops;
}
