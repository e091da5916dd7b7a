import { BluegreenError } from '../errors.js';
import type { Pool } from '../pool.js';

// The pools' own HTTP endpoints on the compose network (http://app_blue:3000): health and chaos.

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

export function createPoolClient(urls: Readonly<Record<Pool, string>>, timeoutMs = 2000): PoolClient {
  const call = async (pool: Pool, method: string, path: string, ms = timeoutMs) => {
    try {
      const res = await fetch(new URL(path, urls[pool]), { method, signal: AbortSignal.timeout(ms) });
      const text = await res.text();
      return { status: res.status, text };
    } catch (err) {
      throw new BluegreenError('POOL_UNHEALTHY', `${pool} pool did not answer ${method} ${path} at ${urls[pool]}`, {
        hint: 'is its container running?',
        cause: err,
      });
    }
  };
  return {
    async health(pool, ms) {
      const started = performance.now();
      try {
        const r = await call(pool, 'GET', '/healthz', ms);
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
      const r = await call(pool, 'GET', '/chaos');
      const mode = (JSON.parse(r.text) as { chaos?: unknown }).chaos;
      return mode === 'error' || mode === 'timeout' ? mode : null;
    },
    async startChaos(pool, mode) {
      const r = await call(pool, 'POST', `/chaos/start?mode=${mode}`);
      if (r.status !== 200) throw new BluegreenError('INTERNAL', `${pool} refused chaos start: HTTP ${r.status} ${r.text}`);
    },
    async stopChaos(pool) {
      const r = await call(pool, 'POST', '/chaos/stop');
      if (r.status !== 200) throw new BluegreenError('INTERNAL', `${pool} refused chaos stop: HTTP ${r.status} ${r.text}`);
    },
  };
}
