import { BluegreenError } from '../errors.js';
import type { Pool } from '../pool.js';

// The pools' own HTTP endpoints on the compose network: health on the app's port (http://app_blue:3000,
// the port nginx proxies to), chaos on its admin listener (http://app_blue:3001), which nginx never
// proxies to, so no spelling of a public URL can reach chaos (issue #10).

export type ChaosMode = 'error' | 'timeout';

export interface PoolProbe {
  healthy: boolean;
  /** HTTP status, or the network error when none came back. */
  detail: string;
  /** Chaos mode the pool reported in its /healthz body (the demo app says it while failing). */
  chaos?: ChaosMode | null;
  ms: number;
}

export interface PoolClient {
  health(pool: Pool, timeoutMs: number): Promise<PoolProbe>;
  chaos(pool: Pool): Promise<ChaosMode | null>;
  startChaos(pool: Pool, mode: ChaosMode): Promise<void>;
  stopChaos(pool: Pool): Promise<void>;
}

export interface PoolUrls {
  /** The app's own port, the one nginx proxies to: health. Every image has it. */
  app: Readonly<Record<Pool, string>>;
  /** The admin listener: chaos. The demo app has one; an image deployed with `deploy` may not. */
  admin: Readonly<Record<Pool, string>>;
}

const NO_CHAOS_HINT = 'chaos needs the demo app, or an image that serves /chaos on its admin port (ADMIN_PORT)';

/**
 * Swarm mode: every task's admin base URL (http://<task address>:ADMIN_PORT), so chaos reaches all of
 * a pool's tasks, not the one a DNS name happens to resolve to.
 */
export type AdminTargets = (pool: Pool) => Promise<string[]>;

export function createPoolClient(urls: PoolUrls, timeoutMs = 2000, adminTargets?: AdminTargets): PoolClient {
  const call = async (pool: Pool, kind: keyof PoolUrls, method: string, path: string, ms = timeoutMs, base = urls[kind][pool]) => {
    try {
      const res = await fetch(new URL(path, base), { method, signal: AbortSignal.timeout(ms) });
      const text = await res.text();
      return { status: res.status, text };
    } catch (err) {
      // A running container with nothing on the admin port refuses the connection at once: say
      // that the image has no chaos, not that the pool is down (its health is read elsewhere).
      const code = (err as { cause?: { code?: string } }).cause?.code;
      if (kind === 'admin' && code === 'ECONNREFUSED') {
        throw new BluegreenError('CHAOS_UNAVAILABLE', `${pool} pool serves no chaos endpoint: nothing listens at ${base} (${method} ${path} refused)`, {
          hint: NO_CHAOS_HINT,
          cause: err,
        });
      }
      throw new BluegreenError('POOL_UNHEALTHY', `${pool} pool did not answer ${method} ${path} at ${base}`, {
        hint: 'is its container running?',
        cause: err,
      });
    }
  };
  /** A chaos call the admin port answered with something other than the demo app's 200. */
  const chaosRefused = (pool: Pool, what: string, r: { status: number; text: string }, base = urls.admin[pool]) =>
    r.status === 404 || r.status === 405
      ? new BluegreenError('CHAOS_UNAVAILABLE', `${pool} pool serves no chaos endpoint at ${base} (${what}: HTTP ${r.status})`, { hint: NO_CHAOS_HINT })
      : new BluegreenError('INTERNAL', `${pool} refused ${what}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
  /** The admin listeners to act on: the pool's one URL, or each of its tasks in Swarm mode. */
  const targets = async (pool: Pool, what: string): Promise<string[]> => {
    if (!adminTargets) return [urls.admin[pool]];
    const list = await adminTargets(pool);
    // Stopping chaos on a pool with no running task is done: Swarm replaces a task that fails its
    // healthcheck (chaos makes /healthz fail), and a new task starts without chaos.
    if (list.length === 0 && what !== 'chaos stop') {
      throw new BluegreenError('POOL_UNHEALTHY', `${pool} pool has no running task to reach`, { hint: 'bluegreen status shows its tasks' });
    }
    return list;
  };
  /** Sends one chaos call to every target; all must take it. */
  const everyTarget = async (pool: Pool, what: string, path: string) => {
    const list = await targets(pool, what);
    const results = await Promise.allSettled(
      list.map(async (base) => {
        const r = await call(pool, 'admin', 'POST', path, timeoutMs, base);
        if (r.status !== 200) throw chaosRefused(pool, what, r, base);
      }),
    );
    const bad = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (bad.length === 0) return;
    if (bad.length === list.length) throw bad[0]?.reason;
    const first = bad[0]?.reason as Error;
    throw new BluegreenError('INTERNAL', `${what} reached ${list.length - bad.length} of ${pool}'s ${list.length} tasks; the others failed: ${first.message}`, { cause: first });
  };
  return {
    async health(pool, ms) {
      const started = performance.now();
      try {
        const r = await call(pool, 'app', 'GET', '/healthz', ms);
        // Body sample while chaos is on: {"status":"chaos","pool":"blue","release":"blue-v1","chaos":"timeout"}
        let chaos: ChaosMode | null = null;
        try {
          const mode = (JSON.parse(r.text) as { chaos?: unknown }).chaos;
          if (mode === 'error' || mode === 'timeout') chaos = mode;
        } catch {
          // Not JSON (another app behind the pool): no chaos information.
        }
        return { healthy: r.status === 200, detail: `HTTP ${r.status}`, ms: performance.now() - started, chaos };
      } catch (err) {
        // fetch wraps the socket error: cause = TypeError('fetch failed'), cause.cause = {code: 'ECONNREFUSED', …}.
        const cause = (err as { cause?: { name?: string; message?: string; cause?: { code?: string; hostname?: string } } }).cause;
        const net = cause?.cause;
        const detail =
          cause?.name === 'TimeoutError'
            ? `no answer within ${ms} ms`
            : net?.code
              ? `no answer: ${net.code}${net.hostname ? ` ${net.hostname}` : ''}`
              : (cause?.message ?? String(err));
        return { healthy: false, detail, ms: performance.now() - started };
      }
    },
    async chaos(pool) {
      // One task speaks for the pool: chaos is started and stopped on all of them together.
      const [base] = await targets(pool, 'chaos read');
      const r = await call(pool, 'admin', 'GET', '/chaos', timeoutMs, base);
      let body: { chaos?: unknown };
      try {
        body = JSON.parse(r.text) as { chaos?: unknown };
      } catch (err) {
        throw new BluegreenError('CHAOS_UNAVAILABLE', `${pool} pool answered GET /chaos at ${base} with no JSON (HTTP ${r.status})`, { hint: NO_CHAOS_HINT, cause: err });
      }
      if (r.status !== 200) throw chaosRefused(pool, 'chaos read', r, base);
      const mode = body.chaos;
      return mode === 'error' || mode === 'timeout' ? mode : null;
    },
    startChaos: (pool, mode) => everyTarget(pool, 'chaos start', `/chaos/start?mode=${mode}`),
    stopChaos: (pool) => everyTarget(pool, 'chaos stop', '/chaos/stop'),
  };
}
