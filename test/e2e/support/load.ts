import autocannon from 'autocannon';

export interface LoadResult {
  requests: number;
  /** Non-2xx answers plus connection errors and timeouts: what a user would call a failure. */
  failed: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  byPool: Record<string, number>;
  byRelease: Record<string, number>;
  /** Milliseconds. */
  p50: number;
  p99: number;
  max: number;
  /** Responses slower than 1 s (needs the per-response clock, so counted here). */
  slowOver1s: number;
  /** Client-side errors by code (ECONNRESET, ECONNREFUSED, …): what kind of failure it was. */
  errorCodes: Record<string, number>;
  durationSec: number;
}

export interface LoadOptions {
  url: string;
  /** Requests per second over all connections. */
  rate: number;
  /** Total requests: loops are bounded in count... */
  amount: number;
  /** ...and in time (seconds). */
  maxSeconds?: number;
  connections?: number;
  /** Called while the load runs, e.g. to start chaos part-way. */
  during?: () => Promise<void>;
}

/** A bounded load at a fixed rate with keep-alive clients, counting which pool answered. */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const byPool: Record<string, number> = {};
  const byRelease: Record<string, number> = {};
  let slowOver1s = 0;
  const errorCodes: Record<string, number> = {};
  const started = Date.now();
  const options: autocannon.Options = {
    url: opts.url,
    connections: opts.connections ?? 20,
    overallRate: opts.rate,
    amount: opts.amount,
    duration: opts.maxSeconds ?? Math.ceil((opts.amount / opts.rate) * 2 + 10),
    timeout: 10,
    // Per-request latencies as each request saw them; the fixed-rate schedule is checked by requests/durationSec.
    ignoreCoordinatedOmission: true,
    requests: [
      {
        method: 'GET',
        onResponse: (_status, _body, _ctx, headers) => {
          const pool = String(headers?.['x-app-pool'] ?? 'none');
          const release = String(headers?.['x-release-id'] ?? 'none');
          byPool[pool] = (byPool[pool] ?? 0) + 1;
          byRelease[release] = (byRelease[release] ?? 0) + 1;
        },
      },
    ],
  };
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(options, (err, res) => (err ? reject(err) : resolve(res)));
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      if (responseTime > 1000) slowOver1s += 1;
    });
    instance.on('reqError', (err: Error) => {
      const code = (err as NodeJS.ErrnoException).code ?? err.message;
      errorCodes[code] = (errorCodes[code] ?? 0) + 1;
    });
  });
  const during = opts.during ? opts.during() : Promise.resolve();
  const [result] = await Promise.all([finished, during]);
  return {
    requests: result.requests.total,
    failed: result.non2xx + result.errors + result.timeouts,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    byPool,
    byRelease,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    slowOver1s,
    errorCodes,
    durationSec: (Date.now() - started) / 1000,
  };
}

/** One request of runSampledLoad, as the client saw it. */
export interface Sample {
  /** Date.now() when the request was sent, and when its answer (or error) was complete. */
  start: number;
  end: number;
  /** 0 when the request failed at the connection level (no HTTP answer). */
  status: number;
  pool: string | null;
  release: string | null;
  retryAfter: string | null;
  /** The error and its cause when there was no HTTP answer, e.g. "fetch failed: other side closed". */
  error?: string;
}

export interface SampledLoadOptions {
  url: string;
  /** Requests per second over all workers. */
  rate: number;
  /** Bounded in count... */
  amount: number;
  /** ...and in time (seconds). */
  maxSeconds: number;
  /** Concurrent workers, each on its own schedule [20]. */
  connections?: number;
  /** Runs while the load runs; the load stops when it resolves (or at the bounds). */
  during: (samples: readonly Sample[]) => Promise<void>;
}

/**
 * A fixed-rate load that keeps every request's start time, status and headers, so a test can ask
 * what requests sent after a given moment got (autocannon counts, it does not keep requests).
 * fetch keeps connections alive, as browsers and the autocannon loads do.
 */
export async function runSampledLoad(opts: SampledLoadOptions): Promise<Sample[]> {
  const samples: Sample[] = [];
  const workers = opts.connections ?? 20;
  const gapMs = (1000 * workers) / opts.rate;
  const deadline = Date.now() + opts.maxSeconds * 1000;
  let sent = 0;
  let stop = false;
  const worker = async (k: number) => {
    let next = Date.now() + (k * gapMs) / workers;
    while (!stop && sent < opts.amount && Date.now() < deadline) {
      const wait = next - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      next += gapMs;
      sent++;
      const start = Date.now();
      try {
        const res = await fetch(opts.url, { signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        samples.push({
          start,
          end: Date.now(),
          status: res.status,
          pool: res.headers.get('x-app-pool'),
          release: res.headers.get('x-release-id'),
          retryAfter: res.headers.get('retry-after'),
        });
      } catch (err) {
        const cause = (err as Error & { cause?: Error }).cause;
        const error = cause ? `${(err as Error).message}: ${cause.message}` : (err as Error).message;
        samples.push({ start, end: Date.now(), status: 0, pool: null, release: null, retryAfter: null, error });
      }
    }
  };
  const running = Array.from({ length: workers }, (_, k) => worker(k));
  try {
    await opts.during(samples);
  } finally {
    stop = true;
    await Promise.all(running);
  }
  return samples.sort((a, b) => a.start - b.start);
}

/** What a sampled load amounted to: failures (no answer or not 2xx) by kind, latency, who answered. */
export interface SampleSummary {
  requests: number;
  failed: number;
  /** "status 502", or the error of a request that got no answer. */
  failures: Record<string, number>;
  /** Milliseconds. */
  p50: number;
  p99: number;
  max: number;
  byRelease: Record<string, number>;
}

export function summarizeSamples(samples: readonly Sample[]): SampleSummary {
  const failures: Record<string, number> = {};
  const byRelease: Record<string, number> = {};
  for (const s of samples) {
    if (s.status >= 200 && s.status < 300) {
      const release = s.release ?? 'none';
      byRelease[release] = (byRelease[release] ?? 0) + 1;
    } else {
      const kind = s.status === 0 ? (s.error ?? 'no answer') : `status ${s.status}`;
      failures[kind] = (failures[kind] ?? 0) + 1;
    }
  }
  const ms = samples.map((s) => s.end - s.start).sort((a, b) => a - b);
  const at = (p: number) => (ms.length === 0 ? 0 : ms[Math.min(ms.length - 1, Math.ceil(p * ms.length) - 1)]!);
  return {
    requests: samples.length,
    failed: Object.values(failures).reduce((a, b) => a + b, 0),
    failures,
    p50: at(0.5),
    p99: at(0.99),
    max: ms.at(-1) ?? 0,
    byRelease,
  };
}
