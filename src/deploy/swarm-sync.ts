import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { POOLS, type Pool } from '../pool.js';
import { servingTasks, type ClusterSnapshot } from './cluster.js';
import type { NginxControl } from './nginx-control.js';
import type { SwarmControl } from './swarm-control.js';

// Swarm mode's one loop (issue #13): every SWARM_SYNC_MS it reads the swarm once, gives nginx the
// pools' serving tasks as upstream members when they changed (nginx/bluegreen-nginx-members.sh: render, nginx -t,
// reload), and hands the same facts to whoever watches the cluster (cluster alerts). A failed read
// or reload is logged once per distinct problem and tried again on the next round; the loop never
// stops the bot.

export interface SwarmSyncOptions {
  control: SwarmControl;
  nginx: NginxControl;
  /** The port the pools' tasks serve on (APP_PORT). */
  appPort: number;
  intervalMs: number;
  log: Logger;
  /** Called with every snapshot read, after nginx got its members. */
  onSnapshot?: (snapshot: ClusterSnapshot) => void;
}

export interface SwarmSync {
  start(): void;
  stop(): Promise<void>;
  /** One round now; resolves when it is done (the interval calls this too). */
  syncNow(): Promise<void>;
  /** The newest snapshot read, if any. */
  latest(): ClusterSnapshot | undefined;
  /** The members nginx was last given successfully. */
  applied(): Readonly<Record<Pool, readonly string[]>> | undefined;
}

/** Each pool's serving tasks as nginx members, `address:port`, sorted so equal sets compare equal. */
export function membersOf(snapshot: ClusterSnapshot, appPort: number): Record<Pool, string[]> {
  const out = {} as Record<Pool, string[]>;
  for (const pool of POOLS) {
    out[pool] = servingTasks(snapshot, snapshot.pools[pool])
      .map((t) => `${t.address}:${appPort}`)
      .sort();
  }
  return out;
}

export function createSwarmSync(o: SwarmSyncOptions): SwarmSync {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let latest: ClusterSnapshot | undefined;
  let applied: Record<Pool, string[]> | undefined;
  let lastProblem = '';

  const problem = (what: string, err: unknown) => {
    const text = `${what}: ${describeError(err)}`;
    if (text !== lastProblem) o.log.error({ problem: text }, what);
    lastProblem = text;
  };

  async function round(): Promise<void> {
    let snap: ClusterSnapshot;
    try {
      snap = await o.control.snapshot();
    } catch (err) {
      problem('reading the swarm failed', err);
      return;
    }
    latest = snap;
    let failedNow = false;
    const members = membersOf(snap, o.appPort);
    if (JSON.stringify(members) !== JSON.stringify(applied)) {
      const started = performance.now();
      try {
        const result = await o.nginx.applyMembers(members);
        o.log.info({ members, result, ms: Math.round(performance.now() - started) }, `nginx members ${result}`);
        applied = members;
      } catch (err) {
        failedNow = true;
        problem('giving nginx the new members failed', err);
      }
    }
    // A round without a problem, with or without members to give: the next problem is news again.
    if (!failedNow) lastProblem = '';
    try {
      o.onSnapshot?.(snap);
    } catch (err) {
      o.log.error({ err }, 'cluster watch failed on a snapshot');
    }
  }

  const syncNow = (): Promise<void> => {
    running ??= round().finally(() => {
      running = undefined;
    });
    return running;
  };

  return {
    start() {
      if (timer) return;
      void syncNow();
      timer = setInterval(() => void syncNow(), o.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
    syncNow,
    latest: () => latest,
    applied: () => applied,
  };
}
