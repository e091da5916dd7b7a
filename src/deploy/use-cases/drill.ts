import { readProbeToken } from '../nginx/nginx-control.js';
import { otherPool, type Pool } from '../../pool.js';
import type { Operations } from '../operations.js';
import type { ChaosKind } from '../../shared/chaos-kind.js';
import { failed, ok, refused, type OpResult } from '../../shared/op-result.js';
import type { Actor } from '../../shared/actor.js';

// `bluegreen drill`: the chaos -> failover -> alert -> recovery cycle against the live stack, with
// bounded traffic through nginx, timed from the outside. What each time means:
//   failover  chaos start -> first response served by the backup (nginx's retry: what clients see)
//   detect    chaos start -> the bot knew: a watcher alert raised (even if held back by cooldown or
//             maintenance) or the bot's own auto-demote switch, whichever came first
//   alert     chaos start -> a firing alert handed to the notifiers (the bot's /metrics)
//   recover   chaos stop  -> traffic served by the drilled pool again, for good
// The bot process owns the watcher and auto-demote; this may run in another process (the CLI in
// the bot container), so it reads the bot through GET /metrics and nginx's flag files only.

export interface DrillSettings {
  /** Requests per second through nginx. */
  rate: number;
  /** Traffic is bounded in count... */
  maxRequests: number;
  /** ...and in time. */
  maxDurationMs: number;
  baselineMs: number;
  mode: ChaosKind;
  /** How long to wait for failover, detection and alert after chaos starts. */
  detectTimeoutMs: number;
  /** How long to wait for traffic to return after chaos stops. */
  recoverTimeoutMs: number;
  /** Responses in a row from the drilled pool that count as recovered. */
  recoveredAfter: number;
  requestTimeoutMs: number;
}

export const DRILL_DEFAULTS: DrillSettings = {
  rate: 50,
  maxRequests: 4000,
  maxDurationMs: 60_000,
  baselineMs: 2000,
  mode: 'error',
  detectTimeoutMs: 15_000,
  recoverTimeoutMs: 20_000,
  recoveredAfter: 20,
  requestTimeoutMs: 5000,
};

export interface DrillDeps {
  ops: Operations;
  by: Actor;
  /** nginx as this process reaches it (NGINX_URL: http://nginx:80 inside the stack). */
  nginxUrl: string;
  /** The bot's GET /metrics; undefined or unreachable: alert times are reported as unknown. */
  metricsUrl: string | undefined;
  /**
   * What the traffic asks: the app's health path (any app answers it) with its Host header, and
   * nginx's probe token (read from stateDir, NGINX_STATE_DIR) so nginx names the pool of each answer
   * even with POOL_HEADER=off. Default: `/`, no token.
   */
  probe?: { path: string; hostHeader?: string | undefined; stateDir?: string | undefined };
  progress?: (step: string) => void;
  settings?: Partial<DrillSettings>;
  fetch?: typeof fetch;
}

export interface DrillReport {
  pool: Pool;
  backup: Pool;
  mode: ChaosKind;
  requests: number;
  failed: number;
  byPool: Record<string, number>;
  latencyMs: { p50: number; p99: number; max: number };
  timeToFailoverMs: number | undefined;
  timeToDetectMs: number | undefined;
  detectedBy: 'watcher alert' | 'auto-demote' | undefined;
  timeToAlertMs: number | undefined;
  alertKinds: string[];
  autoDemoted: boolean;
  timeToAutoDemoteMs: number | undefined;
  timeToRecoverMs: number | undefined;
  timeToRecoveryAlertMs: number | undefined;
  restoredActive: boolean;
  durationMs: number;
  notes: string[];
}

interface Sample {
  at: number;
  ok: boolean;
  pool: string;
  ms: number;
}

/** Fixed-rate GETs through nginx until stopped or a bound is hit; remembers every answer. */
function startTraffic(url: string, headers: Record<string, string>, s: DrillSettings, doFetch: typeof fetch) {
  const samples: Sample[] = [];
  const inflight = new Set<Promise<void>>();
  const started = performance.now();
  let sent = 0;
  let stopped = false;
  const one = async () => {
    const t = performance.now();
    try {
      const res = await doFetch(url, { signal: AbortSignal.timeout(s.requestTimeoutMs), headers });
      await res.arrayBuffer();
      samples.push({ at: performance.now(), ok: res.status >= 200 && res.status < 300, pool: res.headers.get('x-bluegreen-pool') ?? res.headers.get('x-app-pool') ?? 'none', ms: performance.now() - t });
    } catch {
      samples.push({ at: performance.now(), ok: false, pool: 'none', ms: performance.now() - t });
    }
  };
  const timer = setInterval(() => {
    // Catch up on ticks the event loop delayed, so the rate holds; never past the bounds.
    const due = Math.floor(((performance.now() - started) / 1000) * s.rate);
    while (!stopped && sent < due && sent < s.maxRequests && inflight.size < 200) {
      sent++;
      const p = one();
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    if (sent >= s.maxRequests || performance.now() - started > s.maxDurationMs) stopped = true;
  }, 10);
  return {
    samples,
    get exhausted() {
      return stopped;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.all([...inflight]);
    },
  };
}

/**
 * A real GET /metrics sample:
 *   bluegreen_alerts_total{kind="failover",status="firing"} 1
 *   bluegreen_switches_total{kind="failover",result="ok"} 1
 * Sums the samples of `name` whose labels include `match`.
 */
export function sumSamples(text: string, name: string, match: Record<string, string | string[]> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labels: Record<string, string> = {};
    for (const m of line.matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!;
    const fits = Object.entries(match).every(([k, v]) => (Array.isArray(v) ? v.includes(labels[k] ?? '') : labels[k] === v));
    if (fits) sum += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return sum;
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
}

const DETECT_KINDS = ['failover', 'error_rate', 'all_down', 'latency'];

/** Reads the bot's /metrics text; undefined when not configured or it does not answer. */
function metricsScraper(metricsUrl: string | undefined, doFetch: typeof fetch) {
  return async (): Promise<string | undefined> => {
    if (!metricsUrl) return undefined;
    try {
      const res = await doFetch(metricsUrl, { signal: AbortSignal.timeout(2000) });
      return res.ok ? await res.text() : undefined;
    } catch {
      return undefined;
    }
  };
}

/** The alert counters the drill times: detected (firing or held back), firing, recovery. */
const counts = (text: string) => ({
  detected: sumSamples(text, 'bluegreen_alerts_total', { kind: DETECT_KINDS, status: ['firing', 'suppressed'] }),
  firing: sumSamples(text, 'bluegreen_alerts_total', { kind: DETECT_KINDS, status: 'firing' }),
  recovery: sumSamples(text, 'bluegreen_alerts_total', { kind: 'recovery' }),
});

export async function runDrill(deps: DrillDeps): Promise<OpResult<DrillReport>> {
  const s = { ...DRILL_DEFAULTS, ...deps.settings };
  const doFetch = deps.fetch ?? fetch;
  const say = deps.progress ?? (() => undefined);
  const { ops, by } = deps;
  const notes: string[] = [];
  const t0 = performance.now();

  say('checking the stack');
  const st = await ops.status();
  if (st.status !== 'ok' || !st.data) return st.status === 'refused' ? st : failed(`drill: status failed: ${st.status === 'failed' ? st.message : ''}`);
  const pool = st.data.active;
  const backup = otherPool(pool);
  const unfit = st.data.pools.filter((p) => !p.healthy || p.chaos);
  if (unfit.length > 0) {
    return refused(
      `drill needs both pools healthy and without chaos first: ${unfit.map((p) => `${p.pool} ${p.healthy ? '' : `unhealthy (${p.healthDetail})`}${p.chaos ? ` chaos ${p.chaos}` : ''}`.trim()).join('; ')}`,
    );
  }
  // Behind the page nginx asks no pool: the drill would measure the page, not a failover.
  if (st.data.maintenance.page) return refused('the maintenance page is up: the drill would only see the page. End it first: maintenance off');
  if (st.data.maintenance.on) notes.push('maintenance is on: non-critical alerts are held back (counted as detected, not alerted)');

  const scrape = metricsScraper(deps.metricsUrl, doFetch);
  const base = await scrape();
  if (base === undefined) notes.push(`the bot's /metrics (${deps.metricsUrl ?? 'not configured'}) did not answer: alert times unknown`);
  const before = base === undefined ? undefined : counts(base);
  const kindsBefore = new Map<string, number>(base === undefined ? [] : DETECT_KINDS.map((k) => [k, sumSamples(base, 'bluegreen_alerts_total', { kind: k, status: 'firing' })]));

  const url = new URL(deps.probe?.path ?? '/', deps.nginxUrl).toString();
  const token = deps.probe?.stateDir ? await readProbeToken(deps.probe.stateDir) : undefined;
  const headers: Record<string, string> = { ...(token ? { 'x-bluegreen-probe': token } : {}), ...(deps.probe?.hostHeader ? { host: deps.probe.hostHeader } : {}) };
  say(`traffic: ${s.rate} requests/s through ${url} (at most ${s.maxRequests} requests, ${Math.round(s.maxDurationMs / 1000)} s)`);
  const traffic = startTraffic(url, headers, s, doFetch);
  const report = (partial: Partial<DrillReport>): DrillReport => {
    const lat = traffic.samples.map((x) => x.ms).sort((a, b) => a - b);
    const byPool: Record<string, number> = {};
    for (const x of traffic.samples) byPool[x.pool] = (byPool[x.pool] ?? 0) + 1;
    return {
      pool,
      backup,
      mode,
      requests: traffic.samples.length,
      failed: traffic.samples.filter((x) => !x.ok).length,
      byPool,
      latencyMs: { p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), max: Math.round(lat.at(-1) ?? 0) },
      timeToFailoverMs: undefined,
      timeToDetectMs: undefined,
      detectedBy: undefined,
      timeToAlertMs: undefined,
      alertKinds: [],
      autoDemoted: false,
      timeToAutoDemoteMs: undefined,
      timeToRecoverMs: undefined,
      timeToRecoveryAlertMs: undefined,
      restoredActive: false,
      durationMs: Math.round(performance.now() - t0),
      notes,
      ...partial,
    };
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  let chaosOn = false;
  let mode: ChaosKind = s.mode;

  try {
    await sleep(s.baselineMs);
    const baseline = traffic.samples.length;
    say(`baseline: ${baseline} requests, ${traffic.samples.filter((x) => !x.ok).length} failed, served by ${pool}`);

    const chaos = await startDrillChaos(ops, pool, s.mode, by, say);
    const { started, chaosAt } = chaos;
    mode = chaos.mode;
    if (chaos.note) notes.push(chaos.note);
    if (started.status !== 'ok') {
      await traffic.stop();
      return started.status === 'refused' ? refused(`drill: ${started.reason}`) : failed(`drill: ${started.message}`);
    }
    chaosOn = true;

    let failoverAt: number | undefined;
    let detectAt: number | undefined;
    let detectedBy: DrillReport['detectedBy'];
    let alertAt: number | undefined;
    let demotedAt: number | undefined;
    // Error chaos fails the pool's health check, and an engine that replaces units it finds
    // unhealthy (interval x retries) would leave the pool the drill restores with units starting
    // over, and the bot demoting it again. So chaos ends at 60% of that time, alert or not.
    const unhealthyAfterMs = st.data.pools.find((p) => p.pool === pool)?.runs?.replacesUnhealthyAfterMs;
    const chaosBudgetMs = unhealthyAfterMs === undefined ? undefined : Math.round(unhealthyAfterMs * 0.6);
    const deadline = chaosAt + Math.min(s.detectTimeoutMs, chaosBudgetMs ?? Infinity);
    let seenAll = false;
    while (performance.now() < deadline && !traffic.exhausted) {
      failoverAt ??= traffic.samples.find((x) => x.at >= chaosAt && x.pool === backup)?.at;
      if (demotedAt === undefined && (await ops.activePool()) === backup) {
        demotedAt = performance.now();
        say(`auto-demote: nginx now prefers ${backup} (+${((demotedAt - chaosAt) / 1000).toFixed(1)} s)`);
      }
      const text = before ? await scrape() : undefined;
      if (text !== undefined && before) {
        const c = counts(text);
        if (detectAt === undefined && c.detected > before.detected) {
          detectAt = performance.now();
          detectedBy = 'watcher alert';
        }
        if (alertAt === undefined && c.firing > before.firing) {
          alertAt = performance.now();
          say(`alert raised (+${((alertAt - chaosAt) / 1000).toFixed(1)} s)`);
        }
      }
      if (detectAt === undefined && demotedAt !== undefined) {
        detectAt = demotedAt;
        detectedBy = 'auto-demote';
      }
      const alertDone = alertAt !== undefined || before === undefined || st.data.maintenance.on;
      // An alert may never come (no watcher alert kind fits, cooldown): stop waiting 5 s after detection.
      const waitedForAlert = detectAt !== undefined && performance.now() - detectAt > 5000;
      if (failoverAt !== undefined && detectAt !== undefined && (alertDone || waitedForAlert)) {
        seenAll = true;
        break;
      }
      await sleep(100);
    }
    if (chaosBudgetMs !== undefined && !seenAll && chaosBudgetMs < s.detectTimeoutMs && !traffic.exhausted) {
      notes.push(
        `chaos ended after ${(chaosBudgetMs / 1000).toFixed(1)} s, before ${detectAt === undefined ? 'the bot detected it' : 'an alert came'}: the engine replaces units whose health check fails for ${(unhealthyAfterMs! / 1000).toFixed(0)} s`,
      );
    }
    if (failoverAt !== undefined) say(`failover: ${backup} serves (+${((failoverAt - chaosAt) / 1000).toFixed(1)} s)`);
    else notes.push(`no response came from ${backup} within ${s.detectTimeoutMs} ms of chaos start`);
    if (detectAt === undefined) notes.push(`the bot did not detect the failure within ${s.detectTimeoutMs} ms`);

    say(`chaos stop ${pool}`);
    const stopAt = performance.now();
    const stopped = await ops.stopChaos(pool, by);
    if (stopped.status !== 'ok') notes.push(`chaos stop: ${stopped.status === 'refused' ? stopped.reason : stopped.message}`);
    else chaosOn = false;

    // The bot demoted the drilled pool: put it back, as the drill found it.
    let restoredActive = (await ops.activePool()) === pool;
    const recoverDeadline = stopAt + s.recoverTimeoutMs;
    while (!restoredActive && performance.now() < recoverDeadline) {
      const back = await ops.switchPool(pool, { force: false, by, reason: 'drill: restore the active pool' });
      if (back.status === 'ok') {
        restoredActive = true;
        say(`switched back to ${pool}: ${back.message}`);
      } else await sleep(500);
    }
    if (!restoredActive) notes.push(`could not switch back to ${pool} within ${s.recoverTimeoutMs} ms: run "bluegreen switch ${pool}"`);

    // Recovered: `recoveredAfter` answers in a row from the drilled pool, timed at the first of them.
    let recoveredAt: number | undefined;
    let recoveryAlertAt: number | undefined;
    while (performance.now() < recoverDeadline && !traffic.exhausted) {
      const after = traffic.samples.filter((x) => x.at >= stopAt);
      let run = 0;
      for (let i = after.length - 1; i >= 0 && after[i]!.pool === pool && after[i]!.ok; i--) run++;
      if (run >= s.recoveredAfter) recoveredAt = after[after.length - run]!.at;
      if (before && recoveryAlertAt === undefined) {
        const text = await scrape();
        if (text !== undefined && counts(text).recovery > before.recovery) recoveryAlertAt = performance.now();
      }
      if (recoveredAt !== undefined && (recoveryAlertAt !== undefined || !before || demotedAt !== undefined)) break;
      await sleep(100);
    }
    if (recoveredAt === undefined) notes.push(`traffic did not return to ${pool} within ${s.recoverTimeoutMs} ms of chaos stop`);
    else say(`recovered: ${pool} serves again (+${((recoveredAt - stopAt) / 1000).toFixed(1)} s)`);

    await traffic.stop();
    const end = await scrape();
    const alertKinds = end === undefined ? [] : DETECT_KINDS.filter((k) => sumSamples(end, 'bluegreen_alerts_total', { kind: k, status: 'firing' }) > (kindsBefore.get(k) ?? 0));
    if (demotedAt !== undefined) alertKinds.push('auto_failover');
    const ms = (at: number | undefined, from: number) => (at === undefined ? undefined : Math.round(at - from));
    const r = report({
      timeToFailoverMs: ms(failoverAt, chaosAt),
      timeToDetectMs: ms(detectAt, chaosAt),
      detectedBy,
      timeToAlertMs: ms(alertAt, chaosAt),
      alertKinds,
      autoDemoted: demotedAt !== undefined,
      timeToAutoDemoteMs: ms(demotedAt, chaosAt),
      timeToRecoverMs: ms(recoveredAt, stopAt),
      timeToRecoveryAlertMs: ms(recoveryAlertAt, stopAt),
      restoredActive,
    });
    say(`done: ${r.requests} requests, ${r.failed} failed`);
    const passed = r.failed === 0 && r.timeToDetectMs !== undefined && r.timeToFailoverMs !== undefined && r.timeToRecoverMs !== undefined && restoredActive;
    const text = formatDrillReport(r, passed);
    return passed ? ok(text, r) : failed(text);
  } finally {
    await traffic.stop();
    if (chaosOn) await ops.stopChaos(pool, by).catch(() => undefined);
  }
}

function fmt(ms: number | undefined): string {
  return ms === undefined ? 'not seen' : `${(ms / 1000).toFixed(2)} s`;
}

/** The report as an operator reads it in a terminal or a Slack message. */
export function formatDrillReport(r: DrillReport, passed: boolean): string {
  const pools = Object.entries(r.byPool)
    .map(([p, n]) => `${p} ${n}`)
    .join(', ');
  const lines = [
    `Drill on ${r.pool} (${r.mode} chaos, backup ${r.backup}): ${passed ? 'PASSED' : 'FAILED'}`,
    `  requests     ${r.requests} (${pools}), failed ${r.failed}, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms`,
    `  failover     ${fmt(r.timeToFailoverMs)}  chaos start -> first answer from ${r.backup}`,
    `  detect       ${fmt(r.timeToDetectMs)}${r.detectedBy ? `  (${r.detectedBy})` : ''}`,
    `  alert        ${fmt(r.timeToAlertMs)}${r.alertKinds.length ? `  (${r.alertKinds.join(', ')})` : ''}`,
    `  auto-demote  ${r.autoDemoted ? fmt(r.timeToAutoDemoteMs) : 'no'}`,
    `  recover      ${fmt(r.timeToRecoverMs)}  chaos stop -> ${r.pool} serves again${r.timeToRecoveryAlertMs !== undefined ? `; recovery alert ${fmt(r.timeToRecoveryAlertMs)}` : ''}`,
    `  active pool  ${r.restoredActive ? `${r.pool}, as before` : `NOT restored to ${r.pool}`}; drill took ${fmt(r.durationMs)}`,
  ];
  for (const n of r.notes) lines.push(`  note: ${n}`);
  return lines.join('\n');
}

/**
 * Chaos on the drilled pool, timed: the mode asked for, or, for an app without the demo app's chaos
 * listener, its containers paused (any app).
 */
async function startDrillChaos(ops: Operations, pool: Pool, asked: ChaosKind, by: Actor, say: (step: string) => void) {
  say(`chaos start ${pool} ${asked}`);
  const chaosAt = performance.now();
  const started = await ops.startChaos(pool, asked, { force: false, by });
  if (!(started.status === 'failed' && asked === 'error' && started.cause?.startsWith('CHAOS_UNAVAILABLE'))) return { started, chaosAt, mode: asked, note: undefined };
  say(`chaos start ${pool} pause (no chaos endpoint in the app)`);
  return {
    chaosAt: performance.now(),
    started: await ops.startChaos(pool, 'pause', { force: false, by }),
    mode: 'pause' as ChaosKind,
    note: `${pool} serves no chaos endpoint: the drill paused its containers instead (chaos pause)`,
  };
}

/** The drill's traffic from the bot's settings: the app's health path, its Host, nginx's probe token. */
export function drillProbe(c: { APP_HEALTH_PATH: string; APP_HEALTH_HOST?: string | undefined; NGINX_STATE_DIR: string }): NonNullable<DrillDeps['probe']> {
  return { path: c.APP_HEALTH_PATH, hostHeader: c.APP_HEALTH_HOST, stateDir: c.NGINX_STATE_DIR };
}
