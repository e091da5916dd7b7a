import { POOLS, type Pool } from '../../pool.js';
import { incidentKeyParts, operationalAlert, type AlertEvent, type AlertKind, type Severity } from '../../shared/alert.js';
import { crowdedNode, nodeLabel, servingTasks, type ClusterNode, type ClusterSnapshot, type PoolService } from './cluster.js';

// Cluster alerts in Swarm mode: a node that is not ready, a pool with fewer serving tasks than
// desired, Swarm rolling back (or pausing) a pool's update. Pure logic over successive snapshots
// (cluster.ts): the caller reads the facts about once a second and hands them to observe(); the only
// effect is raise(), into the one alert pipeline (the watcher's policy: cooldown, maintenance).
// Each condition is raised once when it starts, again only when its severity or its phase changes
// (a rollback that gets stuck), and resolved once when it ends; identical snapshots raise nothing.

export type ClusterAlertKind = Extract<AlertKind, 'node_down' | 'pool_under_strength' | 'swarm_rollback' | 'pool_on_one_node'>;

export interface ClusterWatchOptions {
  envName: string;
  raise: (alert: AlertEvent) => void;
  /** How long a pool may run fewer tasks than desired before it pages: a rolling update or a scale-up is not an incident. */
  graceMs: number;
  now?: () => number;
  /**
   * The pool nginx sends traffic to. An active pool left with no serving task is critical, an idle
   * one a warning. Not given (or undefined): every pool left with none is critical.
   */
  activePool?: () => Pool | undefined;
  /** A rollback Swarm completed this long before the first snapshot, while the bot was not looking, gets one notice. Default 15 min. */
  missedRollbackMs?: number;
  /**
   * How long a pool's tasks may all sit on one node (while another could take some) before it pages:
   * the bot spreads them by itself a few seconds after a deploy, a scale or a node's return. Default 60 s.
   */
  oneNodeGraceMs?: number;
}

export interface ClusterIncident {
  key: string;
  kind: ClusterAlertKind;
  pool: Pool | undefined;
  severity: Severity;
  title: string;
  summary: string;
  /** ISO time this process first saw it. */
  firstAt: string;
  /** Taken over from before a restart (restore()): it started earlier than firstAt. */
  restored: boolean;
}

export interface ClusterWatch {
  /** One reading of the cluster; raises what started, changed severity or ended since the last. */
  observe(snapshot: ClusterSnapshot): void;
  /** The incidents open now (raised, or taken over by restore(), and not resolved). */
  open(): ClusterIncident[];
  /**
   * Incident keys the alert policy still holds open from before a restart (the watcher's
   * openIncidents); keys of other kinds are ignored. The next observe() takes over those that still
   * hold without raising them again, and resolves those that ended while the bot was not looking.
   */
  restore(openKeys: readonly string[]): void;
}

const CLUSTER_KINDS: ReadonlySet<string> = new Set<ClusterAlertKind>(['node_down', 'pool_under_strength', 'swarm_rollback', 'pool_on_one_node']);

// Incident keys (AlertEvent.key): a node is no pool, so its id follows 'all'; each update of a pool
// is its own incident, named by the ms it started.
const nodeDownKey = (nodeId: string): string => `node_down:all:${nodeId}`;
const underStrengthKey = (pool: Pool): string => `pool_under_strength:${pool}`;
const swarmRollbackKey = (pool: Pool, occurrence: number): string => `swarm_rollback:${pool}:${occurrence}`;
const oneNodeKey = (pool: Pool): string => `pool_on_one_node:${pool}`;

export function createClusterWatch(o: ClusterWatchOptions): ClusterWatch {
  const now = o.now ?? Date.now;
  const em = createEmitter(o, now);
  const ctx: WatchContext = {
    em,
    now,
    graceMs: o.graceMs,
    missedRollbackMs: o.missedRollbackMs ?? 15 * 60_000,
    oneNodeGraceMs: o.oneNodeGraceMs ?? 60_000,
    // An empty pool is an outage when it is the one serving traffic, or when nobody said which is.
    outage: (pool, serving, desired) => desired > 0 && serving === 0 && (o.activePool?.() ?? pool) === pool,
    labels: new Map(),
  };
  const nodes = watchNodes(ctx);
  const strength = watchStrength(ctx);
  const updates = watchUpdates(ctx);
  const spread = watchSpread(ctx);
  let first = true;
  let restoring: string[] = [];

  return {
    observe(snapshot) {
      em.adopt(restoring);
      restoring = [];
      for (const n of snapshot.nodes) ctx.labels.set(n.id, n);
      nodes.observe(snapshot);
      strength.observe(snapshot);
      updates.observe(snapshot, first);
      spread.observe(snapshot);
      first = false;
    },
    open: () => em.open(),
    restore(openKeys) {
      restoring.push(...openKeys.filter((k) => CLUSTER_KINDS.has(incidentKeyParts(k).kind)));
    },
  };
}

interface WatchContext {
  em: Emitter;
  now: () => number;
  graceMs: number;
  missedRollbackMs: number;
  oneNodeGraceMs: number;
  outage(pool: Pool, serving: number, desired: number): boolean;
  /** Every node seen so far: a node that left the swarm keeps its name in what is said about it. */
  labels: Map<string, ClusterNode>;
}

const labelOf = (ctx: WatchContext, nodeId: string): string => nodeLabel([...ctx.labels.values()], nodeId);

// ---------------------------------------------------------------------------------------------
// Node down: from the first snapshot it is not ready until it is ready again or leaves the swarm.

interface PoolTaskRef {
  pool: Pool;
  name: string;
}

function watchNodes(ctx: WatchContext) {
  /** The pool tasks each node ran in the last snapshot where it was ready: what a lost node took with it. */
  const ran = new Map<string, PoolTaskRef[]>();

  return {
    observe(s: ClusterSnapshot): void {
      for (const n of s.nodes) {
        if (n.state === 'ready') ran.set(n.id, poolTasksOn(s, n.id));
        // Down when the bot first looked: what Swarm still lists there is all there is to say.
        else if (!ran.has(n.id)) ran.set(n.id, poolTasksOn(s, n.id));
      }
      for (const n of s.nodes.filter((x) => x.state !== 'ready')) {
        const tasks = ran.get(n.id) ?? [];
        const label = labelOf(ctx, n.id);
        const emptied = POOLS.filter((p) => tasks.some((t) => t.pool === p) && servingTasks(s, s.pools[p]).length === 0 && s.pools[p].desired > 0);
        const outage = emptied.some((p) => ctx.outage(p, 0, s.pools[p].desired));
        const names = tasks.map((t) => t.name);
        ctx.em.fire({
          key: nodeDownKey(n.id),
          kind: 'node_down',
          pool: undefined,
          release: undefined,
          severity: outage ? 'critical' : 'warning',
          title: `Node down: ${label}`,
          summary: [
            `Swarm node ${label} (${n.role}) is ${n.state}.`,
            names.length > 0 ? `It ran ${names.join(', ')}; Swarm starts them again on the other nodes if it can.` : 'It ran no pool task.',
            ...emptied.map((p) => `${p} has no serving task left.`),
          ].join(' '),
        });
      }
      for (const inc of ctx.em.open().filter((i) => i.kind === 'node_down')) {
        const id = inc.key.slice(nodeDownKey('').length);
        const n = s.nodes.find((x) => x.id === id);
        if (n && n.state !== 'ready') continue;
        const label = labelOf(ctx, id);
        ctx.em.resolve(inc, {
          title: `Node ready again: ${label}`,
          summary: n
            ? `Swarm node ${label} is ready again ${lasted(inc, ctx.now())}. Swarm does not move tasks back to it by itself.`
            : `Swarm node ${label} left the swarm (removed) ${lasted(inc, ctx.now())}.`,
        });
        if (!n) ran.delete(id);
      }
    },
  };
}

function poolTasksOn(s: ClusterSnapshot, nodeId: string): PoolTaskRef[] {
  return POOLS.flatMap((pool) =>
    s.pools[pool].tasks.filter((t) => t.nodeId === nodeId && t.desiredState === 'running').map((t) => ({ pool, name: t.name })),
  ).sort((a, b) => a.name.localeCompare(b.name));
}

// ---------------------------------------------------------------------------------------------
// Pool under strength: fewer serving tasks than desired past the grace, or at once after a node
// that served the pool was lost. Where the tasks went is told against where they served before.

/** Where a pool's serving tasks run: one entry per task (a slot may briefly run twice during an update). */
type Placement = { name: string; nodeId: string }[];

interface Shortfall {
  since: number;
  /** Where the tasks served in the last snapshot before the pool fell short. */
  before: Placement;
  /** When that snapshot was read: failures older than it are history, not this incident. */
  fullAt: number | undefined;
}

function watchStrength(ctx: WatchContext) {
  const short = new Map<Pool, Shortfall>();
  const last = new Map<Pool, { placement: Placement; at: number }>();

  return {
    observe(s: ClusterSnapshot): void {
      const t = ctx.now();
      const ready = new Set(s.nodes.filter((n) => n.state === 'ready').map((n) => n.id));
      for (const pool of POOLS) {
        const svc = s.pools[pool];
        const serving = servingTasks(s, svc);
        const placement = serving.map((x) => ({ name: x.name, nodeId: x.nodeId }));
        const prev = last.get(pool);
        last.set(pool, { placement, at: t });
        const key = underStrengthKey(pool);
        const sh = short.get(pool) ?? { since: t, before: prev?.placement ?? placement, fullAt: prev?.at };

        if (serving.length >= svc.desired) {
          short.delete(pool);
          const inc = ctx.em.get(key);
          if (!inc) continue;
          const ms = t - sh.since;
          ctx.em.resolve(inc, {
            title: `${pool} is at full strength again`,
            release: svc.release,
            summary: [
              inc.restored
                ? `${pool} runs ${serving.length} of ${svc.desired} tasks again (it fell short before the bot restarted).`
                : `${pool} runs ${serving.length} of ${svc.desired} tasks again: back to full strength ${durationText(ms)} (${ms} ms) after it fell short.`,
              ...movesText(ctx, sh.before, placement),
              `Runs on: ${runsOn(ctx, placement)}.`,
            ].join(' '),
          });
          continue;
        }

        short.set(pool, sh);
        const lost = [...new Set(sh.before.filter((b) => !ready.has(b.nodeId)).map((b) => b.nodeId))];
        if (t - sh.since < ctx.graceMs && lost.length === 0 && !ctx.em.get(key)) continue;
        const outage = ctx.outage(pool, serving.length, svc.desired);
        ctx.em.fire({
          key,
          kind: 'pool_under_strength',
          pool,
          release: svc.release,
          severity: outage ? 'critical' : 'warning',
          title: `${pool} under strength: ${serving.length} of ${svc.desired} tasks`,
          summary: [
            `${pool} (${svc.service}) runs ${serving.length} of ${svc.desired} tasks${t - sh.since >= 1000 ? `, short for ${durationText(t - sh.since)}` : ''}.`,
            ...lost.map((id) => `Node ${labelOf(ctx, id)} is ${s.nodes.find((n) => n.id === id)?.state ?? 'gone from the swarm'}.`),
            ...movesText(ctx, sh.before, placement),
            ...failingText(ctx, svc, sh.fullAt),
            ...(outage ? [`${pool} has no serving task: nginx can only send its traffic to the backup pool.`] : []),
          ].join(' '),
        });
      }
    },
  };
}

/** "Moved: bluegreen_app_blue.2 from vm (9bd0c1) to vm (k3f2a1)." and the tasks that only left or only came. */
function movesText(ctx: WatchContext, before: Placement, after: Placement): string[] {
  const at = (e: { name: string; nodeId: string }) => `${e.name}@${e.nodeId}`;
  const gone = before.filter((b) => !after.some((a) => at(a) === at(b)));
  const added = after.filter((a) => !before.some((b) => at(a) === at(b)));
  const moved: string[] = [];
  for (const g of [...gone]) {
    const i = added.findIndex((a) => a.name === g.name);
    if (i < 0) continue;
    moved.push(`${g.name} from ${labelOf(ctx, g.nodeId)} to ${labelOf(ctx, added[i]!.nodeId)}`);
    added.splice(i, 1);
    gone.splice(gone.indexOf(g), 1);
  }
  return [
    ...(moved.length > 0 ? [`Moved: ${moved.join(', ')}.`] : []),
    ...(gone.length > 0 ? [`Not serving: ${gone.map((g) => `${g.name} (was on ${labelOf(ctx, g.nodeId)})`).join(', ')}.`] : []),
    ...(added.length > 0 ? [`New: ${added.map((a) => `${a.name} on ${labelOf(ctx, a.nodeId)}`).join(', ')}.`] : []),
  ];
}

function runsOn(ctx: WatchContext, placement: Placement): string {
  const byNode = new Map<string, string[]>();
  for (const p of placement) byNode.set(p.nodeId, [...(byNode.get(p.nodeId) ?? []), p.name]);
  if (byNode.size === 0) return 'no node';
  return [...byNode].map(([id, names]) => `${labelOf(ctx, id)}: ${names.sort().join(', ')}`).join('; ');
}

const MAX_FAILURES = 3;

/** Swarm's errors for the pool's tasks that failed, were rejected or cannot be placed, since `since`. */
function failingText(ctx: WatchContext, svc: PoolService, since: number | undefined): string[] {
  const failing = svc.tasks.filter((t) => t.state !== 'running' && t.error !== undefined && (since === undefined || !(Date.parse(t.since) < since)));
  if (failing.length === 0) return [];
  const shown = failing.slice(0, MAX_FAILURES).map((t) => `${t.name} on ${labelOf(ctx, t.nodeId)}: ${t.state}: ${t.error}`);
  const more = failing.length - shown.length;
  return [`Failing: ${shown.join('; ')}${more > 0 ? ` (+${more} more)` : ''}.`];
}

// ---------------------------------------------------------------------------------------------
// A pool on one node: all its serving tasks on one node while another could take some, past the
// grace (the bot spreads them itself well within it). Losing that node would empty the pool.

function watchSpread(ctx: WatchContext) {
  const since = new Map<Pool, number>();
  return {
    observe(s: ClusterSnapshot): void {
      const t = ctx.now();
      for (const pool of POOLS) {
        const svc = s.pools[pool];
        const node = crowdedNode(s, svc);
        const key = oneNodeKey(pool);
        const open = ctx.em.get(key);
        if (!node) {
          since.delete(pool);
          if (open) {
            ctx.em.resolve(open, { title: `${pool} runs on more than one node again`, release: svc.release, summary: `${pool} (${svc.service}) runs on: ${runsOn(ctx, placementOf(s, pool))}.` });
          }
          continue;
        }
        const from = since.get(pool) ?? t;
        since.set(pool, from);
        if (t - from < ctx.oneNodeGraceMs) continue;
        const label = labelOf(ctx, node);
        ctx.em.fire({
          key,
          kind: 'pool_on_one_node',
          pool,
          release: svc.release,
          severity: 'warning',
          title: `${pool} runs on one node: ${label}`,
          summary: `All ${servingTasks(s, svc).length} serving tasks of ${pool} (${svc.service}) run on ${label} for ${durationText(t - from)}, while another node could take some: losing ${label} would leave ${pool} with none. The bot could not spread them; look at the service's placement constraints (docker service inspect ${svc.service}), then: scale ${pool} ${svc.desired + 1}, and back to ${svc.desired}.`,
        });
      }
    },
  };
}

const placementOf = (s: ClusterSnapshot, pool: Pool): Placement => servingTasks(s, s.pools[pool]).map((x) => ({ name: x.name, nodeId: x.nodeId }));

// ---------------------------------------------------------------------------------------------
// Swarm's own rollback. An update that fails its tasks (failure_action: rollback in the stack file)
// goes updating -> rollback_started -> rollback_completed, keeping its StartedAt; `paused` and
// `rollback_paused` are an update or a rollback Swarm stopped half-way. Swarm replaces the reason
// with "rollback completed" at the end, so it is kept from the earlier snapshot. The states and
// messages as swarmkit sets them (manager/orchestrator/update/updater.go; not captured from a run):
//   rollback_started  "update rolled back due to failure or early termination of task <task id>"
//   paused            "update paused due to failure or early termination of task <task id>"
//   rollback_paused   "rollback paused due to failure or early termination of task <task id>"
//   rollback_completed "rollback completed" (CompletedAt set)
// `docker service rollback` (controlapi) starts a new one, StartedAt now, with the message "manually
// requested rollback": a person did it on purpose, so it pages only if it gets stuck.

const STOPPED = new Set(['rollback_started', 'paused', 'rollback_paused']);
const MANUAL = 'manually requested rollback';

interface UpdateSeen {
  state: string;
  occurrence: number;
  startedAt: string | undefined;
  /** Swarm's reason while the rollback or pause was under way. */
  reason: string | undefined;
  manual: boolean;
}

function watchUpdates(ctx: WatchContext) {
  const seen = new Map<Pool, UpdateSeen>();

  return {
    observe(s: ClusterSnapshot, first: boolean): void {
      for (const pool of POOLS) {
        const svc = s.pools[pool];
        const u = svc.update;
        const prev = seen.get(pool);
        const mine = ctx.em.open().filter((i) => i.kind === 'swarm_rollback' && i.pool === pool);
        if (!u) {
          seen.delete(pool);
          for (const inc of mine) ctx.em.resolve(inc, { title: `Swarm's update of ${pool} is over`, release: svc.release, summary: `Swarm reports no update of ${svc.service} any more; it runs ${svc.image}.` });
          continue;
        }
        const started = Date.parse(u.startedAt ?? '');
        const occurrence = Number.isFinite(started) ? started : prev && prev.startedAt === u.startedAt ? prev.occurrence : ctx.now();
        const same = prev?.occurrence === occurrence;
        const manual = u.state === 'rollback_started' ? u.message === MANUAL : same && prev.manual;
        const reason = STOPPED.has(u.state) && u.message ? u.message : same ? prev.reason : undefined;
        seen.set(pool, { state: u.state, occurrence, startedAt: u.startedAt, reason, manual });
        const key = swarmRollbackKey(pool, occurrence);

        for (const inc of mine.filter((i) => i.key !== key)) {
          ctx.em.resolve(inc, {
            title: `Swarm's update of ${pool} was replaced`,
            release: svc.release,
            summary: `A newer update of ${svc.service} replaced it (${u.state}${u.message ? `: ${u.message}` : ''}); it runs ${svc.image}.`,
          });
        }
        const incident = { key, kind: 'swarm_rollback' as const, pool, release: svc.release };
        if (STOPPED.has(u.state) && !(u.state === 'rollback_started' && manual)) {
          ctx.em.fire({ ...incident, severity: 'warning', phase: u.state, ...stoppedText(ctx, pool, svc, u.state, reason) });
          continue;
        }
        const said = reason ? ` Swarm had said: ${reason}.` : '';
        const back = { title: `Swarm rolled back the update of ${pool}`, summary: `Swarm rolled the update back; ${pool} runs ${svc.image} again.${said}` };
        const open = ctx.em.get(key);
        if (u.state === 'rollback_completed') {
          if (open) ctx.em.resolve(open, back);
          // Only a change is news: a rollback seen complete at start-up is told once, and only when recent.
          else if (!manual && (first ? ctx.now() - Date.parse(u.completedAt ?? '') <= ctx.missedRollbackMs : !same || prev.state !== 'rollback_completed')) {
            ctx.em.notice({ ...incident, title: back.title, summary: `${back.summary}${first ? ' (it happened while the bot was not looking)' : ''}` });
          }
          continue;
        }
        // updating, completed: someone resumed or redeployed the update Swarm had stopped.
        if (open) ctx.em.resolve(open, { title: `Swarm's update of ${pool} goes on`, summary: `Swarm's update of ${svc.service} is ${u.state} now${u.message ? ` (${u.message})` : ''}; it runs ${svc.image}.` });
      }
    },
  };
}

function stoppedText(ctx: WatchContext, pool: Pool, svc: PoolService, state: string, reason: string | undefined): { title: string; summary: string } {
  const why = reason ? `: ${reason}` : '';
  const failing = failingText(ctx, svc, undefined);
  if (state === 'rollback_started') {
    return { title: `Swarm rolled back the update of ${pool}`, summary: [`Swarm is rolling back the update of ${svc.service}${why}. ${pool} goes back to ${svc.image}.`, ...failing].join(' ') };
  }
  const what = state === 'paused' ? 'update' : 'rollback';
  return {
    title: `Swarm paused the ${what} of ${pool}`,
    summary: [`Swarm paused the ${what} of ${svc.service}${why}. Its tasks run a mix of the old and the new spec until someone acts.`, ...failing].join(' '),
  };
}

// ---------------------------------------------------------------------------------------------
// The one place that raises: firing once per incident (again only when its severity or phase
// changes), resolution once, incidents taken over after a restart neither raised again nor left open.

interface FireInput {
  key: string;
  kind: ClusterAlertKind;
  pool: Pool | undefined;
  release: string | undefined;
  severity: Severity;
  title: string;
  summary: string;
  /** A stage of the incident people should hear about (Swarm's update state); a change raises it again. */
  phase?: string;
}

interface Emitter {
  fire(i: FireInput): void;
  resolve(inc: ClusterIncident, r: { title: string; summary: string; release?: string | undefined }): void;
  /** Something that began and ended between two looks: one resolved alert, no incident. */
  notice(i: Omit<FireInput, 'severity' | 'phase'>): void;
  get(key: string): ClusterIncident | undefined;
  open(): ClusterIncident[];
  adopt(keys: readonly string[]): void;
}

function createEmitter(o: ClusterWatchOptions, now: () => number): Emitter {
  /** `raised`: what people were told (severity, phase); undefined for an incident taken over after a restart. */
  const open = new Map<string, { incident: ClusterIncident; raised: string | undefined }>();
  const at = () => new Date(now()).toISOString();
  const send = (i: Omit<FireInput, 'severity' | 'phase'>, status: 'firing' | 'resolved', severity: Severity, firstAt: string) =>
    o.raise(operationalAlert({ key: i.key, kind: i.kind, status, severity, pool: i.pool, release: i.release, env: o.envName, title: i.title, summary: i.summary, at: at(), firstAt }));

  return {
    fire(i) {
      const prev = open.get(i.key);
      const incident: ClusterIncident = { key: i.key, kind: i.kind, pool: i.pool, severity: i.severity, title: i.title, summary: i.summary, firstAt: prev?.incident.firstAt ?? at(), restored: prev?.incident.restored ?? false };
      const raised = `${i.severity}/${i.phase ?? ''}`;
      open.set(i.key, { incident, raised });
      if (prev && (prev.raised === undefined || prev.raised === raised)) return;
      send(i, 'firing', i.severity, incident.firstAt);
    },
    resolve(inc, r) {
      if (!open.delete(inc.key)) return;
      send({ key: inc.key, kind: inc.kind, pool: inc.pool, release: r.release, title: r.title, summary: r.summary }, 'resolved', 'info', inc.firstAt);
    },
    notice(i) {
      send(i, 'resolved', 'info', at());
    },
    get: (key) => open.get(key)?.incident,
    open: () => [...open.values()].map((v) => ({ ...v.incident })),
    adopt(keys) {
      for (const key of keys) {
        if (open.has(key)) continue;
        const { kind, pool } = incidentKeyParts(key);
        const incident: ClusterIncident = { key, kind: kind as ClusterAlertKind, pool, severity: 'warning', title: key, summary: 'open before the bot restarted', firstAt: at(), restored: true };
        open.set(key, { incident, raised: undefined });
      }
    },
  };
}

/** "after 42 s", or that it started before a restart (then its length is not known here). */
function lasted(inc: ClusterIncident, t: number): string {
  return inc.restored ? '(it started before the bot restarted)' : `after ${durationText(t - Date.parse(inc.firstAt))}`;
}

/** "42 s", "4 min 5 s", "2 h 3 min". */
function durationText(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${Math.round(s * 10) / 10} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s - m * 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}
