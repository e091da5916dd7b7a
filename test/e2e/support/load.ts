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
  /** Requests that got no HTTP answer, by error (e.g. "fetch failed: other side closed"): what kind of failure it was. */
  errorCodes: Record<string, number>;
  /** The first 20 failures: ms after the load began, and the status or the error. */
  firstFailures: { atMs: number; what: string }[];
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

/**
 * A bounded load at a fixed rate with keep-alive clients, counting which pool answered: runs until
 * `amount` requests were sent (or `maxSeconds`), whatever `during` does meanwhile. Built on
 * runSampledLoad, so every request sent is counted, one whose connection nginx closed included:
 * autocannon, used here before, sent such a request again and counted neither (measured: a server
 * that dropped every tenth connection gave 450 of 500 answered and 0 errors).
 */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const started = Date.now();
  const samples = await runSampledLoad({
    url: opts.url,
    rate: opts.rate,
    amount: opts.amount,
    maxSeconds: opts.maxSeconds ?? Math.ceil((opts.amount / opts.rate) * 2 + 10),
    connections: opts.connections ?? 20,
    runToBounds: true,
    during: async () => opts.during?.(),
  });
  const byPool: Record<string, number> = {};
  const byRelease: Record<string, number> = {};
  const errorCodes: Record<string, number> = {};
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  let slowOver1s = 0;
  const firstFailures: { atMs: number; what: string }[] = [];
  for (const s of samples) {
    if (s.end - s.start > 1000) slowOver1s += 1;
    const failure = failureOf(s);
    if (failure !== undefined && firstFailures.length < 20) firstFailures.push({ atMs: s.start - started, what: failure });
    if (s.status === 0) {
      errorCodes[failure!] = (errorCodes[failure!] ?? 0) + 1;
      if (/timeout|aborted/i.test(failure!)) timeouts += 1;
      else errors += 1;
      continue;
    }
    if (failure !== undefined) non2xx += 1;
    const pool = s.pool ?? 'none';
    const release = s.release ?? 'none';
    byPool[pool] = (byPool[pool] ?? 0) + 1;
    byRelease[release] = (byRelease[release] ?? 0) + 1;
  }
  const summary = summarizeSamples(samples);
  return {
    requests: samples.length,
    failed: non2xx + errors + timeouts,
    non2xx,
    errors,
    timeouts,
    byPool,
    byRelease,
    p50: summary.p50,
    p99: summary.p99,
    max: summary.max,
    slowOver1s,
    errorCodes,
    firstFailures,
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
  /** Each request's method and body [GET, none]: a POST is what nginx must not send twice. */
  method?: string;
  body?: string;
  /** Runs while the load runs; the load stops when it resolves (or at the bounds)... */
  during: (samples: readonly Sample[]) => Promise<void>;
  /** ...unless this is set: then the load runs to its bounds whenever `during` resolves. */
  runToBounds?: boolean;
}

/**
 * A fixed-rate load that keeps every request's start time, status and headers, so a test can ask
 * what requests sent after a given moment got. fetch keeps connections alive, as browsers do.
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
      sent++; // taken before the wait, so the workers together send no more than `amount`
      const wait = next - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (stop || Date.now() >= deadline) break;
      next += gapMs;
      const start = Date.now();
      try {
        const res = await fetch(opts.url, { method: opts.method, body: opts.body, signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        samples.push({
          start,
          end: Date.now(),
          status: res.status,
          pool: res.headers.get('x-bluegreen-pool') ?? res.headers.get('x-app-pool'),
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
    if (opts.runToBounds) await Promise.all(running);
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

/** What went wrong with one request: "status 502", or the error of a request that got no answer; undefined for a 2xx. */
function failureOf(s: Sample): string | undefined {
  if (s.status >= 200 && s.status < 300) return undefined;
  return s.status === 0 ? (s.error ?? 'no answer') : `status ${s.status}`;
}

export function summarizeSamples(samples: readonly Sample[]): SampleSummary {
  const failures: Record<string, number> = {};
  const byRelease: Record<string, number> = {};
  for (const s of samples) {
    const kind = failureOf(s);
    if (kind === undefined) {
      const release = s.release ?? 'none';
      byRelease[release] = (byRelease[release] ?? 0) + 1;
    } else {
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
