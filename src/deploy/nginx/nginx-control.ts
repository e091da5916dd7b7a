import { mkdir, open, readFile, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BluegreenError } from '../../errors.js';
import { fileExists, writeFileAtomic } from '../../files.js';
import type { Pool } from '../../pool.js';
import type { ContainerEngine } from '../docker/container-engine.js';

// How the deploy layer reaches nginx. The active pool is chosen per request by nginx from flag files
// in a folder both share (nginx/: `if (-f /etc/nginx/bluegreen/active-green)`), so a switch writes
// files and needs no reload: measured 0 failed requests, where reloads closed idle keep-alive
// connections. `nginx -t` + reload stay for real config changes (after deploy: new container IP).

export interface NginxControl {
  /** The pool nginx routes to now, read from the flag files (the truth, not a variable). */
  activePool(): Promise<Pool>;
  /** Flip the flag files; new requests go to `pool` from the next request on. */
  setActive(pool: Pool): Promise<void>;
  /**
   * Poll nginx until it demonstrably routes to `pool`: 3 answers in a row from it, or, when the pool
   * answers some checks and fails others (nginx then benches it and retries on the other pool), 3
   * checks it did not answer after one it did: the flags work, and judging the release is the
   * post-switch guard's job. `ms` stays undefined when the pool answered no check in time.
   * With `steady`, only 3 answers in a row count (deploy's check that the active pool serves).
   */
  verifyServing(pool: Pool, timeoutMs: number, opts?: { steady?: boolean }): Promise<Verification>;
  /** Whether the maintenance-page flag is there: nginx answers every public request with the page. */
  maintenancePage(): Promise<boolean>;
  /** Write or remove the maintenance-page flag; nginx reads it per request (no reload). */
  setMaintenancePage(on: boolean): Promise<void>;
  /**
   * Poll nginx until `consecutive` answers in a row are the page (on) or come from a pool (off);
   * resolves with ms taken or undefined at the deadline.
   */
  verifyPage(on: boolean, timeoutMs: number): Promise<number | undefined>;
  /** `nginx -t` inside the nginx container; throws NGINX_CONFIG_INVALID with nginx's own words. */
  testConfig(): Promise<void>;
  /** `nginx -t`, then a reload of the inner nginx inside the nginx container; throws with nginx's own words. */
  testAndReload(): Promise<void>;
  /**
   * When a pool is many tasks: writes each pool's member list (`address:port` per line) where nginx reads it, and
   * has nginx render its upstreams from them, test and reload (nginx/bluegreen-nginx-members.sh `apply`). Resolves
   * with what nginx did; throws NGINX_CONFIG_INVALID (nginx keeps its previous config) or NGINX_DOWN.
   */
  applyMembers(members: Readonly<Record<Pool, readonly string[]>>): Promise<'reloaded' | 'unchanged'>;
  /**
   * The member lists nginx renders from now (the files applyMembers writes), sorted; undefined when
   * a pool has none (nginx then serves the pools' service names).
   */
  readMembers(): Promise<Record<Pool, string[]> | undefined>;
  /**
   * Writes the release each pool runs where nginx reads it (`release-blue`, `release-green`) and has
   * nginx render its maps again (`apply`: a reload only when a release changed), so the access log's
   * `release` is what was deployed, with no help from the app. A release nginx could not print is
   * not written (the log then falls back to the app's X-Release-Id).
   */
  publishReleases(releases: Readonly<Record<Pool, string | undefined>>): Promise<'reloaded' | 'unchanged'>;
}

export interface NginxControlOptions {
  stateDir: string;
  /** nginx as the bot sees it: http://nginx:80 on the compose network, a published port from the host. */
  url: string;
  /** Runs nginx's own commands (nginx -t, the member script) in its container. */
  engine: Pick<ContainerEngine, 'exec'>;
  /** The container nginx runs in, as the deploy engine finds it (throws NGINX_DOWN when none runs). */
  container: () => Promise<string>;
  /** The path (and Host header) the bot's checks through nginx ask: the app's health path. */
  probe?: { path: string; hostHeader?: string | undefined };
  fetchTimeoutMs?: number;
}

/** The release ids nginx/bluegreen-nginx-members.sh prints into its map (what `deploy` accepts). */
const PRINTABLE_RELEASE = /^[\w.+:-]{1,128}$/;

/** A reload takes a fraction of a second and waits at most 10 s for the old workers: room for both. */
const MEMBERS_EXEC_MS = 15_000;

/** The member-list files nginx/bluegreen-nginx-members.sh reads: `members-blue`, `members-green`. */
export const membersFile = (pool: Pool) => `members-${pool}`;
/**
 * nginx's probe token (nginx/entrypoint.sh writes a new one at each start on the state volume): nginx
 * names the pool and tells upstream statuses only to requests that carry it. Undefined when unreadable.
 */
export async function readProbeToken(stateDir: string): Promise<string | undefined> {
  return (await readFile(join(stateDir, 'probe-token'), 'utf8').catch(() => '')).trim() || undefined;
}

/** The release files bluegreen-nginx-members.sh reads: `release-blue`, `release-green`. */
export const releaseFile = (pool: Pool) => `release-${pool}`;

const flag = (dir: string, pool: Pool) => join(dir, `active-${pool}`);
/** nginx/nginx.conf.template: `if (-f …/maintenance-page) { return 503; }` in the public location. */
export const MAINTENANCE_PAGE_FLAG = 'maintenance-page';

/** What a switch's check through nginx saw. */
export interface Verification {
  /** Until `pool` answered 3 checks in a row; undefined when it did not in time. */
  ms: number | undefined;
  checks: number;
  /**
   * Checks by outcome: the target answered; the other pool answered after the target failed with a
   * status; the other pool answered without trying the target while nginx routed to the target
   * (benched: it had failed real requests) or while nginx still routed to the other pool (skipped;
   * also when nginx did not say); no answer.
   */
  answered: number;
  failedOver: Record<string, number>;
  benched: number;
  skipped: number;
  noAnswer: number;
}

/** "green failed 4 of 11 checks with 500 (blue answered); 2 went to blue without trying green". */
export function describeVerification(v: Verification, target: Pool): string {
  const other = target === 'blue' ? 'green' : 'blue';
  const failed = Object.values(v.failedOver).reduce((a, b) => a + b, 0);
  const parts: string[] = [];
  if (failed > 0) {
    const how = Object.entries(v.failedOver)
      .map(([st, n]) => `${st === '-' ? 'no answer' : st}${Object.keys(v.failedOver).length > 1 ? ` x${n}` : ''}`)
      .join(', ');
    parts.push(`${target} failed ${failed} of ${v.checks} checks with ${how} (${other} answered them)`);
  }
  if (v.benched > 0) parts.push(`${v.benched} of ${v.checks} went to ${other} because nginx had benched ${target} (it failed real requests)`);
  if (v.skipped > 0) parts.push(`${v.skipped} of ${v.checks} went to ${other} without trying ${target} (nginx still routed to ${other})`);
  if (v.noAnswer > 0) parts.push(`${v.noAnswer} of ${v.checks} got no answer from nginx`);
  if (parts.length === 0) parts.push(`${target} answered ${v.answered} of ${v.checks} checks, never 3 in a row`);
  return parts.join('; ');
}

function exists(path: string): Promise<boolean> {
  return fileExists(path).catch((err: unknown) => {
    throw new BluegreenError('STATE_IO', `cannot read ${path}`, { cause: err });
  });
}

/** What one probe through nginx saw. */
export interface ProbeAnswer {
  /** The pool that answered: nginx's X-Bluegreen-Pool, else the app's own X-App-Pool. */
  pool: Pool | undefined;
  /** What nginx tried, e.g. "500, 200" (X-Bluegreen-Upstream, told to probes with the token). */
  upstream: string | undefined;
  /** The group the flag files chose, e.g. "green_primary" (X-Bluegreen-Group, likewise). */
  group: string | undefined;
}

/** Where and how the checks through nginx ask (the app's health path by default). */
export interface ProbeTarget {
  path: string;
  hostHeader?: string | undefined;
}

const DEFAULT_PROBE: ProbeTarget = { path: '/healthz' };

/** The pool nginx says answered (X-Bluegreen-Pool), else the one the app says (X-App-Pool). */
function answeredBy(res: Response): Pool | undefined {
  const pool = res.headers.get('x-bluegreen-pool') ?? res.headers.get('x-app-pool');
  return pool === 'blue' || pool === 'green' ? pool : undefined;
}

function probeHeaders(target: ProbeTarget, extra: Record<string, string>): Record<string, string> {
  return { ...extra, ...(target.hostHeader ? { host: target.hostHeader } : {}) };
}

/** One request through nginx and what it saw, or undefined when nothing answered. */
export async function probePool(url: string, timeoutMs: number, token = 'switch-verify', target: ProbeTarget = DEFAULT_PROBE): Promise<ProbeAnswer | undefined> {
  try {
    const res = await fetch(new URL(target.path, url), {
      signal: AbortSignal.timeout(timeoutMs),
      headers: probeHeaders(target, { 'x-bluegreen-probe': token }),
    });
    await res.arrayBuffer();
    // nginx's $upstream_status for probes, e.g. "500, 200" (nginx/nginx.conf.template).
    return {
      pool: answeredBy(res),
      upstream: res.headers.get('x-bluegreen-upstream') ?? undefined,
      group: res.headers.get('x-bluegreen-group') ?? undefined,
    };
  } catch {
    return undefined;
  }
}

/**
 * One request through nginx as a client sees it (the probe token with X-Bluegreen-Probe-Page: nginx
 * names the pool but does not let the probe pass the page): 'page' when nginx answered with the
 * maintenance page (503 and no pool named), 'pool' when a pool answered, undefined for no answer.
 */
export async function probePage(url: string, timeoutMs: number, token = 'maintenance-verify', target: ProbeTarget = DEFAULT_PROBE): Promise<'page' | 'pool' | undefined> {
  try {
    const res = await fetch(new URL(target.path, url), {
      signal: AbortSignal.timeout(timeoutMs),
      headers: probeHeaders(target, { 'x-bluegreen-probe': token, 'x-bluegreen-probe-page': '1' }),
    });
    await res.arrayBuffer();
    if (answeredBy(res) !== undefined) return 'pool';
    return res.status === 503 ? 'page' : undefined;
  } catch {
    return undefined;
  }
}

export function createNginxControl(opts: NginxControlOptions): NginxControl {
  const fetchTimeoutMs = opts.fetchTimeoutMs ?? 1000;
  // One run of bluegreen-nginx-members at a time (two at once could put back each other's file).
  let queue: Promise<unknown> = Promise.resolve();
  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  }
  function membersScript(mode: 'apply', what: string, hint: string): Promise<'reloaded' | 'unchanged'> {
    return serial(async () => {
      const r = await opts.engine.exec(await nginxContainer(), ['bluegreen-nginx-members', mode], { timeoutMs: MEMBERS_EXEC_MS });
      if (r.exitCode !== 0) throw new BluegreenError('NGINX_CONFIG_INVALID', `${what}: ${nginxProblem(r.stderr || r.stdout)}`, { hint });
      return r.stdout.includes('unchanged') ? 'unchanged' : 'reloaded';
    });
  }

  const nginxContainer = opts.container;
  const target = opts.probe ?? DEFAULT_PROBE;
  const probeToken = () => readProbeToken(opts.stateDir);

  return {
    async activePool() {
      // Same precedence as nginx's `if`: active-green wins, anything else is blue.
      return (await exists(flag(opts.stateDir, 'green'))) ? 'green' : 'blue';
    },

    async setActive(pool) {
      const other: Pool = pool === 'blue' ? 'green' : 'blue';
      try {
        await mkdir(opts.stateDir, { recursive: true });
        // Create the new flag before removing the old, so a reader never sees neither (which means
        // blue): for a switch to green the green flag alone decides; to blue, removing it does.
        const fh = await open(flag(opts.stateDir, pool), 'a');
        await fh.close();
        await unlink(flag(opts.stateDir, other)).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        });
      } catch (err) {
        throw new BluegreenError('STATE_IO', `cannot write the active-pool flag in ${opts.stateDir}`, {
          hint: 'is the nginx_state volume mounted writable in the bot?',
          cause: err,
        });
      }
    },

    async maintenancePage() {
      return exists(join(opts.stateDir, MAINTENANCE_PAGE_FLAG));
    },

    async setMaintenancePage(on) {
      const path = join(opts.stateDir, MAINTENANCE_PAGE_FLAG);
      try {
        if (on) {
          await mkdir(opts.stateDir, { recursive: true });
          const fh = await open(path, 'a');
          await fh.close();
        } else {
          await unlink(path).catch((err: NodeJS.ErrnoException) => {
            if (err.code !== 'ENOENT') throw err;
          });
        }
      } catch (err) {
        throw new BluegreenError('STATE_IO', `cannot ${on ? 'write' : 'remove'} the maintenance-page flag in ${opts.stateDir}`, {
          hint: 'is the nginx_state volume mounted writable in the bot?',
          cause: err,
        });
      }
    },

    async verifyPage(on, timeoutMs) {
      const started = Date.now();
      const want = on ? 'page' : 'pool';
      let inRow = 0;
      const token = await probeToken();
      while (Date.now() - started < timeoutMs) {
        const got = await probePage(opts.url, Math.min(fetchTimeoutMs, timeoutMs), token, target);
        inRow = got === want ? inRow + 1 : 0;
        if (inRow >= 3) return Date.now() - started;
        if (got !== want) await new Promise((r) => setTimeout(r, 20));
      }
      return undefined;
    },

    async verifyServing(pool, timeoutMs, { steady = false } = {}) {
      const started = Date.now();
      const v: Verification = { ms: undefined, checks: 0, answered: 0, failedOver: {}, benched: 0, skipped: 0, noAnswer: 0 };
      const token = await probeToken();
      let inRow = 0;
      while (Date.now() - started < timeoutMs) {
        const got = await probePool(opts.url, Math.min(fetchTimeoutMs, timeoutMs), token, target);
        v.checks++;
        if (got?.pool === pool) v.answered++;
        else if (got?.pool === undefined) v.noAnswer++;
        else {
          // More than one attempt: the first went to the target and failed with its status.
          const tries = got.upstream?.split(/, | : /) ?? [];
          if (tries.length > 1) v.failedOver[tries[0]!] = (v.failedOver[tries[0]!] ?? 0) + 1;
          else if (got.group === `${pool}_primary`) v.benched++;
          else v.skipped++;
        }
        inRow = got?.pool === pool ? inRow + 1 : 0;
        if (inRow >= 3 || (!steady && v.answered >= 1 && v.checks - v.answered >= 3)) return { ...v, ms: Date.now() - started };
        if (got?.pool !== pool) await new Promise((r) => setTimeout(r, 20));
      }
      return v;
    },

    async testConfig() {
      await testIn(await nginxContainer());
    },

    async applyMembers(members) {
      for (const pool of ['blue', 'green'] as const) {
        const lines = members[pool].map((m) => `${m}\n`).join('');
        const path = join(opts.stateDir, membersFile(pool));
        await writeFileAtomic(path, `# written by the bot: ${pool}'s serving tasks\n${lines}`).catch((err: unknown) => {
          throw new BluegreenError('STATE_IO', `cannot write ${path}`, { cause: err, hint: 'the bot needs write access to NGINX_STATE_DIR' });
        });
      }
      return membersScript('apply', 'nginx did not take the new member lists', 'nginx keeps running with its previous members');
    },

    async publishReleases(releases) {
      for (const pool of ['blue', 'green'] as const) {
        const path = join(opts.stateDir, releaseFile(pool));
        const rel = releases[pool];
        const write = rel !== undefined && PRINTABLE_RELEASE.test(rel) ? writeFileAtomic(path, `${rel}\n`) : rm(path, { force: true });
        await write.catch((err: unknown) => {
          throw new BluegreenError('STATE_IO', `cannot write ${path}`, { cause: err, hint: 'the bot needs write access to NGINX_STATE_DIR' });
        });
      }
      return membersScript('apply', 'nginx did not take the new release names', 'nginx keeps running with its previous config');
    },

    async readMembers() {
      const out = {} as Record<Pool, string[]>;
      for (const pool of ['blue', 'green'] as const) {
        const text = await readFile(join(opts.stateDir, membersFile(pool)), 'utf8').catch(() => undefined);
        if (text === undefined) return undefined;
        // The format bluegreen-nginx-members reads: one address:port a line, `#` starts a comment.
        out[pool] = [...new Set(text.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean))].sort();
      }
      return out;
    },

    async testAndReload() {
      const id = await nginxContainer();
      await testIn(id);
      // nginx/bluegreen-nginx-members.sh: `nginx -s reload` of the inner nginx, done once no old
      // worker serves (the new groups then answer every request). Clients talk to the edge master in
      // front of it, which resends a request whose connection the reload closed.
      // It also renders the maps again: a name now resolves to the new container's address.
      const reload = await serial(() => opts.engine.exec(id, ['bluegreen-nginx-members', 'reload'], { timeoutMs: MEMBERS_EXEC_MS }));
      if (reload.exitCode !== 0) {
        throw new BluegreenError('NGINX_DOWN', `nginx reload failed: ${nginxProblem(reload.stderr || reload.stdout)}`, {
          hint: 'nginx keeps running with its previous configuration',
        });
      }
    },
  };

  async function testIn(id: string): Promise<void> {
    const test = await opts.engine.exec(id, ['nginx', '-t']);
    if (test.exitCode !== 0) {
      throw new BluegreenError('NGINX_CONFIG_INVALID', `nginx -t failed: ${nginxProblem(test.stderr)}`, {
        hint: 'nginx keeps running with its previous configuration',
      });
    }
  }
}

/**
 * The line of `nginx -t` stderr that says what is wrong, without its timestamp and pid. Real
 * sample (nginx 1.22, this stack's image):
 *   2026/11/22 21:13:08 [emerg] 1#1: unknown directive "garbage" in /tmp/x.conf:1
 *   nginx: configuration file /tmp/x.conf test failed
 * Older builds print `nginx: [emerg] …` instead of the timestamp.
 */
export function nginxProblem(stderr: string): string {
  for (const line of stderr.split('\n')) {
    const m = /^(?:nginx: )?(?:\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d )?\[(emerg|alert|crit)\] (?:\d+#\d+: )?(.*)$/.exec(line.trim());
    if (m) return `[${m[1]}] ${m[2]}`;
  }
  return stderr.trim() || 'no output';
}
