import { BluegreenError } from '../../errors.js';
import { serviceOf, type Pool } from '../../pool.js';
import { CONNECT_TIMEOUT_MS, DEFAULT_HEALTH, probeHealth, probeHttp, type HealthSpec, type HttpProbe, type ProbeOutcome } from './probe-http.js';

// The pools' own HTTP endpoints, reached from outside the pools (no tool needed in an image): health
// on the app's port (the port nginx proxies to), chaos on the demo app's admin listener, which nginx
// never proxies to, so no spelling of a public URL can reach chaos (issue #10). Every other container
// on the Docker network reaches that listener too, so each call to it carries ADMIN_TOKEN, the pools'
// shared secret, in X-Bluegreen-Admin-Token; the demo app refuses a chaos change without it (issue #20).
//
// A pool is its targets, as the deploy engine names them (DeployEngine.targets): one container by
// service name (http://app_blue:3000), or every serving task of a service by address. A pool's health is its capacity: how many of the
// tasks it should have pass their check. It is healthy when at least one does and at least
// minCapacityPct of the desired number do; a pool that lost one task of two on a lost node is still
// healthy at the default 50, and so is its twin that lost the same.

export type ChaosMode = 'error' | 'timeout';

export interface TargetProbe {
  /** The container's service name, or the task's address. */
  name: string;
  outcome: ProbeOutcome;
  detail: string;
}

export interface PoolProbe {
  healthy: boolean;
  /** "HTTP 200" for one target; "1 of 2 tasks healthy (10.0.1.4: no connection within 500 ms)" for several. */
  detail: string;
  /** Chaos mode the pool reported in its /healthz body (the demo app says it while failing). */
  chaos?: ChaosMode | null;
  ms: number;
  /** Targets that passed. */
  healthyTargets: number;
  /** Targets the pool should have: its desired replicas (1 under Compose). */
  desired: number;
  targets: TargetProbe[];
}

/** What to reach for a pool: its app base URL (health) and admin base URL (chaos). */
export interface PoolTarget {
  name: string;
  app: string;
  admin: string;
}

export interface PoolTargetList {
  targets: PoolTarget[];
  desired: number;
}

export interface PoolClient {
  health(pool: Pool, timeoutMs: number): Promise<PoolProbe>;
  chaos(pool: Pool): Promise<ChaosMode | null>;
  startChaos(pool: Pool, mode: ChaosMode): Promise<void>;
  stopChaos(pool: Pool): Promise<void>;
}

export interface PoolClientOptions {
  targets: (pool: Pool) => Promise<PoolTargetList>;
  /** Deadline of one chaos call [2000]. */
  timeoutMs?: number;
  /** Least share of the desired targets that must pass for the pool to count as healthy [50]. */
  minCapacityPct?: number;
  /** How the app says it is healthy [GET /healthz, any 2xx]. */
  health?: HealthSpec;
  /** The pools' ADMIN_TOKEN, sent with every call to their admin listener [none: the demo app refuses chaos]. */
  adminToken?: string | undefined;
}

/** The header that carries ADMIN_TOKEN to the pools' admin listener (demo-app/server.mjs reads it). */
export const ADMIN_TOKEN_HEADER = 'x-bluegreen-admin-token';

/** Compose mode: each pool is its one container, reached by service name. */
export function composeTargets(urls: { app: Readonly<Record<Pool, string>>; admin: Readonly<Record<Pool, string>> }) {
  return (pool: Pool): Promise<PoolTargetList> => Promise.resolve({ targets: [{ name: serviceOf(pool), app: urls.app[pool], admin: urls.admin[pool] }], desired: 1 });
}

const NO_CHAOS_HINT = 'chaos needs the demo app, or an image that serves /chaos on its admin port (ADMIN_PORT)';
/** Targets listed by name in a pool's detail, at most. */
const MAX_LISTED = 3;

/** Whether `healthy` of `desired` targets is enough for the pool to serve (see the file's comment). */
export function hasCapacity(healthy: number, desired: number, minCapacityPct: number): boolean {
  return healthy >= 1 && healthy * 100 >= minCapacityPct * Math.max(1, desired);
}

/** The chaos mode in a /healthz body, e.g. {"status":"chaos","pool":"blue","release":"blue-v1","chaos":"timeout"}. */
function chaosIn(body: string | undefined): ChaosMode | null {
  try {
    const mode = (JSON.parse(body ?? '') as { chaos?: unknown }).chaos;
    return mode === 'error' || mode === 'timeout' ? mode : null;
  } catch {
    // Not JSON (another app behind the pool): no chaos information.
    return null;
  }
}

export function createPoolClient(o: PoolClientOptions): PoolClient {
  const timeoutMs = o.timeoutMs ?? 2000;
  const minCapacityPct = o.minCapacityPct ?? 50;
  const healthSpec = o.health ?? DEFAULT_HEALTH;
  const adminHeaders: Record<string, string> = o.adminToken ? { [ADMIN_TOKEN_HEADER]: o.adminToken } : {};

  /** One chaos call to a task's admin listener; a refused connection means the image has no chaos. */
  const call = async (pool: Pool, base: string, method: string, path: string): Promise<HttpProbe> => {
    const p = await probeHttp(new URL(path, base), { method, headers: adminHeaders, connectTimeoutMs: Math.min(CONNECT_TIMEOUT_MS, timeoutMs), timeoutMs, expect: () => true });
    if (p.status !== undefined) return p;
    // A running container with nothing on the admin port refuses the connection at once: say
    // that the image has no chaos, not that the pool is down (its health is read elsewhere).
    if (p.detail.includes('ECONNREFUSED')) {
      throw new BluegreenError('CHAOS_UNAVAILABLE', `${pool} pool serves no chaos endpoint: nothing listens at ${base} (${method} ${path} refused)`, { hint: NO_CHAOS_HINT });
    }
    throw new BluegreenError('POOL_UNHEALTHY', `${pool} pool did not answer ${method} ${path} at ${base} (${p.detail})`, { hint: 'is its container running?' });
  };
  /** A chaos call the admin port answered with something other than the demo app's 200. */
  const chaosRefused = (pool: Pool, what: string, r: HttpProbe, base: string) => {
    if (r.status === 404 || r.status === 405) {
      return new BluegreenError('CHAOS_UNAVAILABLE', `${pool} pool serves no chaos endpoint at ${base} (${what}: HTTP ${r.status})`, { hint: NO_CHAOS_HINT });
    }
    // 401: no token or another one; 403: the pool has none. Not CHAOS_UNAVAILABLE: a drill must
    // not quietly pause the pool instead of saying the pools and the bot disagree.
    if (r.status === 401 || r.status === 403) {
      return new BluegreenError('FORBIDDEN', `${pool} refused ${what} at ${base}: HTTP ${r.status} ${(r.body ?? '').slice(0, 300)}`, {
        hint: o.adminToken ? 'the pools and the bot must have the same ADMIN_TOKEN' : 'the bot has no ADMIN_TOKEN: set the same ADMIN_TOKEN for the pools and the bot',
      });
    }
    return new BluegreenError('INTERNAL', `${pool} refused ${what}: HTTP ${r.status} ${(r.body ?? '').slice(0, 200)}`);
  };
  /** The admin listeners to act on: the pool's one container, or each of its serving tasks. */
  const admins = async (pool: Pool, what: string): Promise<string[]> => {
    const list = (await o.targets(pool)).targets.map((t) => t.admin);
    // Stopping chaos on a pool with no serving task is done: a task that starts has no chaos.
    if (list.length === 0 && what !== 'chaos stop') {
      throw new BluegreenError('POOL_UNHEALTHY', `${pool} pool has no running task to reach`, { hint: 'bluegreen status shows its tasks' });
    }
    return list;
  };
  /** Sends one chaos call to every target; all must take it. */
  const everyTarget = async (pool: Pool, what: string, path: string) => {
    const list = await admins(pool, what);
    const results = await Promise.allSettled(
      list.map(async (base) => {
        const r = await call(pool, base, 'POST', path);
        if (r.status !== 200) throw chaosRefused(pool, what, r, base);
      }),
    );
    const bad = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    // A task that no longer answers at all takes no traffic and keeps no chaos worth stopping (nginx
    // and the members leave it out): stop is done when every task that answers has taken it.
    const gone = (r: PromiseRejectedResult) => r.reason instanceof BluegreenError && r.reason.code === 'POOL_UNHEALTHY';
    if (bad.length === 0 || (what === 'chaos stop' && bad.every(gone) && bad.length < list.length)) return;
    if (bad.length === list.length) throw bad[0]?.reason;
    const first = bad[0]?.reason as Error;
    throw new BluegreenError('INTERNAL', `${what} reached ${list.length - bad.length} of ${pool}'s ${list.length} tasks; the others failed: ${first.message}`, { cause: first });
  };

  return {
    async health(pool, ms) {
      const started = performance.now();
      const { targets, desired } = await o.targets(pool);
      const probes = await Promise.all(
        targets.map(async (t) => ({ t, p: await probeHealth(t.app, healthSpec, { connectTimeoutMs: Math.min(CONNECT_TIMEOUT_MS, ms), timeoutMs: ms }) })),
      );
      const passed = probes.filter(({ p }) => p.outcome === 'healthy');
      const failing = probes.filter(({ p }) => p.outcome !== 'healthy');
      const single = targets.length === 1 && desired <= 1;
      const detail = single
        ? probes[0]!.p.detail
        : `${passed.length} of ${desired} task${desired === 1 ? '' : 's'} healthy${
            failing.length > 0 ? ` (${failing.slice(0, MAX_LISTED).map(({ t, p }) => `${t.name}: ${p.detail}`).join('; ')}${failing.length > MAX_LISTED ? `; +${failing.length - MAX_LISTED} more` : ''})` : ''
          }`;
      // One task speaks for the pool's chaos: chaos is started and stopped on all of them together.
      const chaos = probes.map(({ p }) => chaosIn(p.body)).find((c) => c !== null) ?? null;
      return {
        healthy: hasCapacity(passed.length, desired, minCapacityPct),
        detail: targets.length === 0 ? `no serving task of ${desired}` : detail,
        chaos,
        ms: performance.now() - started,
        healthyTargets: passed.length,
        desired,
        targets: probes.map(({ t, p }) => ({ name: t.name, outcome: p.outcome, detail: p.detail })),
      };
    },
    async chaos(pool) {
      const [base] = await admins(pool, 'chaos read');
      const r = await call(pool, base!, 'GET', '/chaos');
      let body: { chaos?: unknown };
      try {
        body = JSON.parse(r.body ?? '') as { chaos?: unknown };
      } catch (err) {
        throw new BluegreenError('CHAOS_UNAVAILABLE', `${pool} pool answered GET /chaos at ${base} with no JSON (HTTP ${r.status})`, { hint: NO_CHAOS_HINT, cause: err });
      }
      if (r.status !== 200) throw chaosRefused(pool, 'chaos read', r, base!);
      const mode = body.chaos;
      return mode === 'error' || mode === 'timeout' ? mode : null;
    },
    startChaos: (pool, mode) => everyTarget(pool, 'chaos start', `/chaos/start?mode=${mode}`),
    stopChaos: (pool) => everyTarget(pool, 'chaos stop', '/chaos/stop'),
  };
}
