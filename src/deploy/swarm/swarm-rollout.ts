import type { Pool } from '../../pool.js';
import type { Progress } from '../../shared/progress.js';
import { describePerNode, servingTasks, tasksPerNode, type ClusterSnapshot, type PoolTask, type SwarmUpdate } from './cluster.js';
import type { HttpProbe } from '../pools/probe-http.js';
import { withoutDigest, type SwarmControl } from './swarm-control.js';

// Swarm mode's deploy and scale, followed to their end (issues #13, #17). A deploy is Swarm's own
// rolling update (start-first, failure_action: rollback in docker-stack.yml): the bot starts it and
// reads the service's UpdateStatus until Swarm says completed, paused or rolled back, telling the
// operator each task that moves. The pools run no health check inside their containers (one process
// per check is what made Swarm stop healthy tasks on a busy host), so Swarm only knows that a new
// task started; the bot gates the update itself: each new task must pass its health check, probed
// over HTTP from outside, within the deadline, or the bot asks Swarm to roll the update back. An
// image with a HEALTHCHECK of its own is gated by Swarm too. Nothing here decides about traffic: the
// pool is idle while it changes.

export interface RolloutOptions {
  control: SwarmControl;
  timeoutMs: number;
  /**
   * The bot's health gate: one probe of a new task. Without it only Swarm's own view counts. Each
   * new task gets `healthTimeoutMs` from when it runs to answer healthy once.
   */
  health?: { probe: (task: PoolTask) => Promise<HttpProbe>; timeoutMs: number };
  pollMs?: number;
  say: Progress;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export type UpdateOutcome =
  | { kind: 'completed'; snapshot: ClusterSnapshot; update: SwarmUpdate | undefined }
  /** Swarm undid the update (failure_action: rollback), or paused it / its rollback. */
  | { kind: 'rolled_back' | 'paused'; snapshot: ClusterSnapshot; update: SwarmUpdate }
  | { kind: 'timeout'; snapshot: ClusterSnapshot; update: SwarmUpdate | undefined };

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Whether `u` is a status of the update started after `before` (Swarm keeps the last one's). The same
 * start is the same update whatever its state now: an earlier update may end while this one begins.
 */
function isNew(u: SwarmUpdate | undefined, before: SwarmUpdate | undefined): u is SwarmUpdate {
  if (u === undefined) return false;
  if (before === undefined) return true;
  return u.startedAt !== undefined ? u.startedAt !== before.startedAt : u.state !== before.state;
}

/** Starts the rolling update of `pool` to `image` and follows it until Swarm ends it or the deadline. */
export async function rollOut(pool: Pool, image: string, env: Readonly<Record<string, string>>, o: RolloutOptions): Promise<UpdateOutcome> {
  const sleep = o.sleep ?? realSleep;
  const now = o.now ?? Date.now;
  const { control, say } = o;
  const first = await control.snapshot();
  const replicas = first.pools[pool].desired;
  const oldTasks = new Set(first.pools[pool].tasks.map((t) => t.id));
  const before = await control.update(pool, image, env);
  const gate = o.health ? 'each new task healthy (checked by the bot) before it counts' : 'each new one healthy before an old one stops';
  say(`Swarm is updating ${first.pools[pool].service} to ${image}: ${replicas} task${replicas === 1 ? '' : 's'}, one at a time, ${gate}`);
  const deadline = now() + o.timeoutMs;
  const gateOf = o.health ? healthGate(o.health, now) : undefined;
  let lastLine = '';
  // Swarm says why it rolls back only while it does ("update rolled back due to failure or early
  // termination of task k2x9…"); its final status says "rollback completed". When the bot asked
  // for the rollback, the reason is the bot's.
  let why: string | undefined;
  let rolledBackByBot = false;
  let snap = first;
  for (;;) {
    await sleep(o.pollMs ?? 1000);
    snap = await control.snapshot();
    const svc = snap.pools[pool];
    // Until Swarm writes this update's status, the one it shows is an earlier update's.
    const u = isNew(svc.update, before) ? svc.update : undefined;
    const serving = servingTasks(snap, svc);
    const fresh = serving.filter((t) => t.image === withoutDigest(image) && !oldTasks.has(t.id));
    const verdict = gateOf && !rolledBackByBot ? await gateOf(fresh) : undefined;
    const checked = verdict ? `, ${verdict.healthy} healthy` : '';
    const line = u ? `${u.state}: ${fresh.length} of ${svc.desired} running tasks on ${image}${checked}${u.message && !rolledBackByBot ? ` (${u.message})` : ''}` : '';
    if (line && line !== lastLine) say(line);
    lastLine = line || lastLine;
    if (verdict?.failed) {
      why = `the bot rolled the update back: ${verdict.failed}`;
      say(`${verdict.failed}: asking Swarm to roll ${svc.service} back`);
      rolledBackByBot = true;
      await control.rollback(pool);
      continue;
    }
    if (u) {
      if (u.state === 'rollback_started' && !rolledBackByBot) why = u.message;
      const allHealthy = !verdict || verdict.healthy >= svc.desired;
      if (u.state === 'completed' && !rolledBackByBot && allHealthy) return { kind: 'completed', snapshot: snap, update: u };
      if (u.state === 'rollback_completed') {
        return { kind: 'rolled_back', snapshot: snap, update: why && why !== u.message ? { ...u, message: `${why}; ${u.message ?? 'rollback completed'}` } : u };
      }
      if (u.state === 'paused' || u.state === 'rollback_paused') return { kind: 'paused', snapshot: snap, update: u };
    }
    // No replicas: Swarm has nothing to replace and may never write an UpdateStatus.
    if (svc.desired === 0) return { kind: 'completed', snapshot: snap, update: u };
    if (now() >= deadline) return { kind: 'timeout', snapshot: snap, update: u };
  }
}

/**
 * The bot's gate over the new tasks: probes each until it answers healthy once, and fails the update
 * when one has run for the deadline without doing so. Returns how many passed so far.
 */
function healthGate(h: NonNullable<RolloutOptions['health']>, now: () => number) {
  const runningSince = new Map<string, number>();
  const passed = new Set<string>();
  const last = new Map<string, string>();
  return async (fresh: PoolTask[]): Promise<{ healthy: number; failed: string | undefined }> => {
    const t = now();
    await Promise.all(
      fresh
        .filter((task) => !passed.has(task.id))
        .map(async (task) => {
          if (!runningSince.has(task.id)) runningSince.set(task.id, t);
          const p = await h.probe(task);
          last.set(task.id, p.detail);
          if (p.outcome === 'healthy') passed.add(task.id);
        }),
    );
    const late = fresh.find((task) => !passed.has(task.id) && t - (runningSince.get(task.id) ?? t) >= h.timeoutMs);
    const failed = late && `${late.name} did not pass its health check within ${Math.round(h.timeoutMs / 1000)} s of starting (last: ${last.get(late.id)})`;
    return { healthy: fresh.filter((task) => passed.has(task.id)).length, failed };
  };
}

export type ScaleOutcome = { kind: 'done' | 'timeout'; previous: number; snapshot: ClusterSnapshot };

/** Sets the replicas and waits until exactly that many tasks serve (and no more are wanted). */
export async function scaleTo(pool: Pool, replicas: number, o: RolloutOptions): Promise<ScaleOutcome> {
  const sleep = o.sleep ?? realSleep;
  const now = o.now ?? Date.now;
  const previous = await o.control.scale(pool, replicas);
  o.say(`Swarm asked for ${replicas} ${pool} task${replicas === 1 ? '' : 's'} (was ${previous})`);
  const deadline = now() + o.timeoutMs;
  let last = -1;
  for (;;) {
    await sleep(o.pollMs ?? 1000);
    const snap = await o.control.snapshot();
    const svc = snap.pools[pool];
    const running = servingTasks(snap, svc).length;
    const wanted = svc.tasks.filter((t) => t.desiredState === 'running').length;
    if (running !== last) o.say(`${running} of ${replicas} running (${describePerNode(tasksPerNode(snap, svc))})`);
    last = running;
    if (running === replicas && wanted === replicas) return { kind: 'done', previous, snapshot: snap };
    if (now() >= deadline) return { kind: 'timeout', previous, snapshot: snap };
  }
}

/** The errors of tasks that did not start, at most three: what a failed deploy or scale quotes. */
export function taskErrors(snapshot: ClusterSnapshot, pool: Pool): string[] {
  return snapshot.pools[pool].tasks
    .filter((t) => t.error)
    .slice(0, 3)
    .map((t) => `${t.name}: ${t.error}`);
}
