import { randomBytes } from 'node:crypto';
import { lstatSync, mkdtempSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { composeCommand, run, type RunResult } from './docker.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export interface StackPorts {
  nginx: number;
  blue: number;
  green: number;
  bot: number;
}

/** What the in-network stand-in recorded (see standin-main.ts). */
export interface StandInState {
  calls: { method: string; args: Record<string, unknown>; at: number }[];
  responses: { id: string; body: Record<string, unknown>; at: number }[];
  webhooks: { body: Record<string, unknown>; at: number }[];
  refused: { method: string; how: string; at: number }[];
  /** Socket Mode, when the stand-in runs it: apps.connections.open outcomes, handshakes, sockets open, acks. */
  socket?: { opens: boolean[]; connections: number; open: number; acks: number };
  now: number;
}

/** The bot's ack of an envelope sent over Socket Mode. */
export interface SocketAckJson {
  envelope_id: string;
  payload: Record<string, unknown> | undefined;
  at: number;
}

export interface StandInClient {
  /** SLACK_API_URL / SLACK_WEBHOOK_URL / response_url base as the bot sees them. */
  apiUrl: string;
  webhookUrl: string;
  responseUrl(id: string): string;
  state(): Promise<StandInState>;
  control(c: Record<string, unknown>): Promise<void>;
  /** Send a Socket Mode envelope (op socketSlash / socketClick / socketRefresh); the bot's ack. */
  socket(c: Record<string, unknown>): Promise<SocketAckJson>;
  waitFor<T>(what: string, check: (s: StandInState) => T | undefined | false, timeoutMs?: number): Promise<T>;
}

export interface Stack {
  project: string;
  ports: StackPorts;
  env: NodeJS.ProcessEnv;
  /** `docker compose -p <project> …` with this stack's env. */
  compose(...args: string[]): Promise<RunResult>;
  /** URL through nginx's published port on 127.0.0.1. */
  url(path?: string): string;
  /** URL of a pool's published admin listener (ADMIN_PORT: chaos, /healthz, /version). */
  poolUrl(pool: 'blue' | 'green', path?: string): string;
  /** Present when started with standIn: true. */
  standIn: StandInClient | undefined;
  /** Lines of nginx's JSON access log (read through the nginx container). */
  accessLog(): Promise<string[]>;
  down(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

/** The demo app's image as scripts/stack.sh tags it (IMAGE_TAG gives each checkout its own). */
export const DEMO_IMAGE = `bluegreen-demo-app:${process.env.IMAGE_TAG ?? 'local'}`;

/**
 * The compose project of a suite: its name plus this checkout's IMAGE_TAG (when not the default), so
 * two checkouts running the same suite at once never share a project: startStack tears its project
 * down before bringing it up, which would otherwise stop the other checkout's stack.
 */
export function projectName(suite: string): string {
  const tag = (process.env.IMAGE_TAG ?? 'local').toLowerCase().replace(/[^a-z0-9_-]/g, '');
  return tag === '' || tag === 'local' ? suite : `${suite}-${tag}`;
}

let imagesReady: Promise<void> | undefined;

/** Builds the images once per process unless the test runner already did (BLUEGREEN_IMAGES_READY). */
export function ensureImages(): Promise<void> {
  if (process.env.BLUEGREEN_IMAGES_READY === '1') return Promise.resolve();
  imagesReady ??= (async () => {
    const r = await run('bash', ['scripts/stack.sh', 'build'], { cwd: ROOT, timeoutMs: 900_000 });
    if (r.code !== 0) throw new Error(`image build failed:\n${r.stderr.slice(-4000)}`);
  })();
  return imagesReady;
}

/**
 * Polls `check` until it holds. Each try is bounded by a timer of its own (ref'd, unlike
 * AbortSignal.timeout's): a fetch to a port whose container is still starting can stay pending
 * with no handle left, and node:test then cancels the suite ("Promise resolution is still
 * pending but the event loop has already resolved"); seen under Compose v2, which starts nginx
 * sooner after its dependencies turn healthy.
 */
async function waitFor(what: string, check: (signal: AbortSignal) => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const ok = await Promise.race([
      check(abort.signal).catch(() => false),
      new Promise<false>((r) => {
        timer = setTimeout(() => {
          abort.abort();
          r(false);
        }, 3000);
      }),
    ]);
    clearTimeout(timer);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** GET that reads the whole body, so the connection is free again. */
async function answers(url: string, signal: AbortSignal): Promise<number> {
  const res = await fetch(url, { signal });
  await res.arrayBuffer();
  return res.status;
}

export interface StartOptions {
  /** The suite's compose project name (each suite its own); projectName() adds the checkout's tag. */
  project: string;
  /** Extra env for compose interpolation (ACTIVE_POOL, SLACK_*, RELEASE_ID_*, …). */
  env?: Record<string, string>;
  /** Services to start [all]. */
  services?: string[];
  /** Wait for the bot's /healthz too [true when the bot is started]. */
  waitForBot?: boolean;
  /** Add the Slack/webhook stand-in service (test/e2e/support/standin.compose.yml). */
  standIn?: boolean;
  timeoutMs?: number;
}

function standInClient(controlPort: number): StandInClient {
  const base = `http://127.0.0.1:${controlPort}`;
  const state = async (): Promise<StandInState> => (await (await fetch(`${base}/state`)).json()) as StandInState;
  return {
    apiUrl: 'http://standin:4000/api/',
    webhookUrl: 'http://standin:4000/webhook',
    responseUrl: (id) => `http://standin:4000/response/${id}`,
    state,
    async control(c) {
      const res = await fetch(`${base}/control`, { method: 'POST', body: JSON.stringify(c) });
      if (res.status !== 204) throw new Error(`stand-in control ${JSON.stringify(c)}: HTTP ${res.status}`);
    },
    async socket(c) {
      const res = await fetch(`${base}/control`, { method: 'POST', body: JSON.stringify(c) });
      if (res.status !== 200) throw new Error(`stand-in socket ${String(c.op)}: HTTP ${res.status} ${await res.text()}`);
      return (await res.json()) as SocketAckJson;
    },
    async waitFor(what, check, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      let last: StandInState | undefined;
      while (Date.now() < deadline) {
        last = await state();
        const v = check(last);
        if (v !== undefined && v !== false) return v;
        await new Promise((r) => setTimeout(r, 100));
      }
      const calls = (last?.calls ?? []).map((c) => `${c.method}${c.args.text === undefined ? '' : ` ${JSON.stringify(String(c.args.text).slice(0, 120))}`}`);
      throw new Error(`stand-in: timed out after ${timeoutMs} ms waiting for ${what}; calls: ${calls.join(', ')}; webhooks: ${last?.webhooks.length}`);
    },
  };
}

/**
 * The stand-in runs this checkout's sources from a bind mount of the repo. In a git worktree whose
 * node_modules is a symlink to another checkout's, that link dangles inside the container: an
 * override file mounts the link's target at the same path, so it resolves there too.
 */
function linkedNodeModules(): string | undefined {
  const modules = join(ROOT, 'node_modules');
  try {
    if (!lstatSync(modules).isSymbolicLink()) return undefined;
  } catch {
    return undefined;
  }
  const target = realpathSync(modules);
  const file = join(mkdtempSync(join(tmpdir(), 'bg-compose-')), 'node-modules.compose.yml');
  writeFileSync(file, `services:\n  standin:\n    volumes:\n      - ${JSON.stringify(`${target}:${target}:ro`)}\n`);
  return file;
}

/**
 * Brings up a fresh compose project on free 127.0.0.1 ports (any leftover of the same project is
 * torn down first, volumes included) and waits until nginx serves through the active pool.
 */
export async function startStack(opts: StartOptions): Promise<Stack> {
  await ensureImages();
  const project = projectName(opts.project);
  const ports: StackPorts = { nginx: await freePort(), blue: await freePort(), green: await freePort(), bot: await freePort() };
  const controlPort = opts.standIn ? await freePort() : 0;
  const composeFiles = [resolve(ROOT, 'docker-compose.yml')];
  if (opts.standIn) {
    composeFiles.push(resolve(ROOT, 'test/e2e/support/standin.compose.yml'));
    const linked = linkedNodeModules();
    if (linked) composeFiles.push(linked);
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    COMPOSE_PROJECT_NAME: project,
    COMPOSE_FILE: composeFiles.join(':'),
    BLUEGREEN_REPO: ROOT,
    STANDIN_CONTROL_PORT: String(controlPort || 1),
    NGINX_BIND: '127.0.0.1',
    NGINX_PORT: String(ports.nginx),
    BLUE_PORT: String(ports.blue),
    GREEN_PORT: String(ports.green),
    BOT_PORT: String(ports.bot),
    // docker-filter runs as uid 1000 in the socket's group, as scripts/stack.sh finds it.
    DOCKER_GID: String(statSync('/var/run/docker.sock').gid),
    BLUE_IMAGE: DEMO_IMAGE,
    GREEN_IMAGE: DEMO_IMAGE,
    // The pools' and the bot's shared secret for chaos, as scripts/stack.sh would give them; each
    // stack its own, and the checkout's .env is never read for it (Compose prefers the environment).
    ADMIN_TOKEN: randomBytes(32).toString('hex'),
    ...opts.env,
  };
  const base = await composeCommand();
  const compose = (...args: string[]) =>
    run(base[0]!, [...base.slice(1), '-p', project, ...args], { env, cwd: ROOT, timeoutMs: 300_000 });

  await compose('down', '-v', '--remove-orphans', '--timeout', '2');
  const up = await compose('up', '-d', '--no-build', ...(opts.services ?? []));
  if (up.code !== 0) throw new Error(`compose up failed:\n${up.stderr}`);

  const stack: Stack = {
    project,
    ports,
    env,
    compose,
    standIn: opts.standIn ? standInClient(controlPort) : undefined,
    url: (path = '/') => `http://127.0.0.1:${ports.nginx}${path}`,
    poolUrl: (pool, path = '/') => `http://127.0.0.1:${pool === 'blue' ? ports.blue : ports.green}${path}`,
    async accessLog() {
      const r = await compose('exec', '-T', 'nginx', 'cat', '/var/log/bluegreen/access.json.log');
      if (r.code !== 0) throw new Error(`cannot read the access log: ${r.stderr}`);
      return r.stdout.split('\n').filter((l) => l.length > 0);
    },
    async down() {
      await compose('down', '-v', '--remove-orphans', '--timeout', '2');
    },
  };

  try {
    const timeoutMs = opts.timeoutMs ?? 120_000;
    await waitFor('nginx to serve /', async (signal) => (await answers(stack.url('/'), signal)) === 200, timeoutMs);
    const botStarted = !opts.services || opts.services.includes('bot');
    if (opts.waitForBot ?? botStarted) {
      await waitFor('the bot /healthz', async (signal) => (await answers(`http://127.0.0.1:${ports.bot}/healthz`, signal)) === 200, timeoutMs);
    }
  } catch (err) {
    const logs = await compose('logs', '--tail', '50');
    await stack.down();
    throw new Error(`${(err as Error).message}\n${logs.stdout.slice(-6000)}`, { cause: err });
  }
  return stack;
}

/** POST to a pool's chaos endpoint through its admin listener's 127.0.0.1 port, with the stack's ADMIN_TOKEN as the bot sends it. */
export async function chaos(stack: Stack, pool: 'blue' | 'green', action: 'start' | 'stop', mode: 'error' | 'timeout' = 'error') {
  const path = action === 'start' ? `/chaos/start?mode=${mode}` : '/chaos/stop';
  const res = await fetch(stack.poolUrl(pool, path), { method: 'POST', headers: { 'x-bluegreen-admin-token': stack.env.ADMIN_TOKEN ?? '' } });
  if (!res.ok) throw new Error(`chaos ${action} on ${pool}: HTTP ${res.status}`);
}
