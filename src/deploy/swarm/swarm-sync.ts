import { describeError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { POOLS, type Pool } from '../../pool.js';
import type { ClusterSnapshot } from './cluster.js';
import type { NginxControl } from '../nginx/nginx-control.js';
import type { ProbeOutcome } from '../pools/probe-http.js';
import type { SwarmControl } from './swarm-control.js';
import { candidates, decideMembers, see, type TaskSeen } from './swarm-members.js';

// Swarm mode's loop (issues #13, #17). Two clocks:
//   - every intervalMs it reads the swarm once (services, tasks, nodes) and hands the snapshot to
//     whoever watches the cluster (cluster alerts);
//   - every probeIntervalMs it probes each task that may serve, on its own schedule (a task that
//     does not answer never delays the others), so a vanished node's tasks leave nginx's members
//     about a second after they stop answering, without waiting for Swarm to mark the node down.
// Whenever either changes what nginx should have (swarm-members.ts decides), nginx gets the members
// (nginx/bluegreen-nginx-members.sh: render, nginx -t, reload; clients never see that reload). One
// apply at a time; a change during one is applied right after. A failed read or apply is logged once
// per distinct problem and tried again; the loop never stops the bot.

export interface SwarmSyncOptions {
  control: SwarmControl;
  nginx: NginxControl;
  /** The port the pools' tasks serve on (APP_PORT). */
  appPort: number;
  intervalMs: number;
  /** How often each task is probed [500]. */
  probeIntervalMs?: number;
  /** One probe of a task by address: what it answered. */
  probe: (address: string) => Promise<ProbeOutcome>;
  /** What nginx has now, read once at start (its member files); undefined: it serves the pools' names. */
  readApplied?: () => Promise<Record<Pool, string[]> | undefined>;
  log: Logger;
  /** Called with every snapshot read. */
  onSnapshot?: (snapshot: ClusterSnapshot) => void;
}

export interface SwarmSync {
  start(): void;
  stop(): Promise<void>;
  /** One read of the swarm now, one probe of each task that may serve, and the members they imply; resolves when nginx has them. */
  syncNow(): Promise<void>;
  /** The newest snapshot read, if any. */
  latest(): ClusterSnapshot | undefined;
  /** The members nginx was last given successfully. */
  applied(): Readonly<Record<Pool, readonly string[]>> | undefined;
}

/** Each pool's serving tasks as nginx members, `address:port`, sorted so equal sets compare equal. */
export function membersOf(snapshot: ClusterSnapshot, appPort: number): Record<Pool, string[]> {
  const out = {} as Record<Pool, string[]>;
  for (const pool of POOLS) out[pool] = candidates(snapshot, pool).map((t) => `${t.address}:${appPort}`).sort();
  return out;
}

/** The least pause between two probes of one task. */
const MIN_GAP_MS = 50;

const sameMembers = (a: Readonly<Record<Pool, readonly string[]>> | undefined, b: Readonly<Record<Pool, readonly string[]>> | undefined) =>
  a !== undefined && b !== undefined && POOLS.every((p) => a[p].join() === b[p].join());

export function createSwarmSync(o: SwarmSyncOptions): SwarmSync {
  const probeIntervalMs = o.probeIntervalMs ?? 500;
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;
  let reading: Promise<void> | undefined;
  let latest: ClusterSnapshot | undefined;
  let applied: Record<Pool, string[]> | undefined;
  let appliedRead = false;
  /** The last problem said, per step (read, keep, apply): said again only when it changes or comes back. */
  const said = new Map<string, string>();
  const seen = new Map<string, TaskSeen>();
  /** Addresses whose probe loop runs. */
  const probing = new Set<string>();
  let applying: Promise<void> | undefined;
  let again = false;

  const problem = (step: string, what: string, err: unknown) => {
    const text = `${what}: ${describeError(err)}`;
    if (text !== said.get(step)) o.log.error({ problem: text }, what);
    said.set(step, text);
  };
  const fine = (step: string) => said.delete(step);

  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

  /** Probes one task until it is no longer a candidate (or the loop stops). */
  async function probeLoop(address: string): Promise<void> {
    while (!stopped && latest && POOLS.some((p) => candidates(latest!, p).some((t) => t.address === address))) {
      const started = performance.now();
      const outcome = await o.probe(address).catch((): ProbeOutcome => 'unreachable');
      seen.set(address, see(seen.get(address), outcome));
      // Deciding is cheap and applies nothing when the members stay the same.
      void reconcile();
      // One probe per interval, counted from its start: a probe that waited out its connect timeout
      // is followed at once, so a vanished task leaves after two timeouts, not two intervals more.
      await sleep(Math.max(MIN_GAP_MS, probeIntervalMs - (performance.now() - started)));
    }
    probing.delete(address);
    seen.delete(address);
  }

  function followTasks(snap: ClusterSnapshot): void {
    for (const pool of POOLS) {
      for (const t of candidates(snap, pool)) {
        if (stopped || probing.has(t.address!)) continue;
        probing.add(t.address!);
        void probeLoop(t.address!);
      }
    }
  }

  async function applyOnce(): Promise<void> {
    if (!latest) return;
    if (!appliedRead) {
      appliedRead = true;
      applied = await o.readApplied?.().catch(() => undefined);
    }
    const d = decideMembers(latest, seen, applied, o.appPort);
    if (d.pending) return;
    if (d.keep) {
      problem('keep', 'no task of either pool answers the bot', new Error('nginx keeps its members; it still fails over per request'));
      return;
    }
    fine('keep');
    if (sameMembers(d.members, applied)) {
      fine('apply');
      return;
    }
    const started = performance.now();
    try {
      const result = await o.nginx.applyMembers(d.members);
      const left = POOLS.flatMap((p) => d.unreachable[p]);
      o.log.info({ members: d.members, unreachable: left, result, ms: Math.round(performance.now() - started) }, `nginx members ${result}`);
      applied = d.members;
      fine('apply');
    } catch (err) {
      problem('apply', 'giving nginx the new members failed', err);
    }
  }

  /** Decide and apply, one at a time; a request during an apply runs once more after it. */
  function reconcile(): Promise<void> {
    if (applying) {
      again = true;
      return applying;
    }
    applying = (async () => {
      try {
        do {
          again = false;
          await applyOnce();
        } while (again && !stopped);
      } finally {
        applying = undefined;
      }
    })();
    return applying;
  }

  /** One probe of each task that may serve, all at once. */
  async function probeRound(snap: ClusterSnapshot): Promise<void> {
    const addresses = POOLS.flatMap((p) => candidates(snap, p).map((t) => t.address!));
    await Promise.all(
      addresses.map(async (address) => {
        const outcome = await o.probe(address).catch((): ProbeOutcome => 'unreachable');
        seen.set(address, see(seen.get(address), outcome));
      }),
    );
  }

  async function read(probeAll: boolean): Promise<void> {
    let snap: ClusterSnapshot;
    try {
      snap = await o.control.snapshot();
    } catch (err) {
      problem('read', 'reading the swarm failed', err);
      return;
    }
    fine('read');
    latest = snap;
    // What was seen of tasks that no longer may serve is history (a task's address is not reused soon).
    const now = new Set(POOLS.flatMap((p) => candidates(snap, p).map((t) => t.address!)));
    for (const address of seen.keys()) if (!now.has(address) && !probing.has(address)) seen.delete(address);
    followTasks(snap);
    if (probeAll) await probeRound(snap);
    await reconcile();
    try {
      o.onSnapshot?.(snap);
    } catch (err) {
      o.log.error({ err }, 'cluster watch failed on a snapshot');
    }
  }

  const readOnce = (probeAll: boolean): Promise<void> => {
    reading ??= read(probeAll).finally(() => {
      reading = undefined;
    });
    return reading;
  };
  const syncNow = () => readOnce(true);

  return {
    start() {
      if (timer) return;
      stopped = false;
      // The first read probes every task before deciding; then each task's own loop probes it.
      void syncNow();
      timer = setInterval(() => void readOnce(false), o.intervalMs);
      timer.unref();
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      await reading;
      await applying;
    },
    syncNow,
    latest: () => latest,
    applied: () => applied,
  };
}
