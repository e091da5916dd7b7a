import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { BluegreenError } from '../../../src/errors.js';
import { createLogger, type Logger } from '../../../src/log.js';
import { composeSettings, type ConfigLike } from '../../../src/deploy/compose/compose-settings.js';
import { envRecord } from '../../../src/deploy/docker/docker-client.js';
import type { ContainerEngine, HelperSpec, ContainerInfo, ReplacementSpec } from '../../../src/deploy/docker/container-engine.js';
import type { NginxControl, Verification } from '../../../src/deploy/nginx/nginx-control.js';
import { createOpLock } from '../../../src/deploy/state/op-lock.js';
import { createOperations, type Operations, type OperationsDeps, type OperationsSettings } from '../../../src/deploy/operations.js';
import { createComposeEngine } from '../../../src/deploy/compose/compose-engine.js';
import type { DeployEngine } from '../../../src/deploy/deploy-engine.js';

const COMPOSE_URLS = { app: { blue: 'http://app_blue:3000', green: 'http://app_green:3000' }, admin: { blue: 'http://app_blue:3001', green: 'http://app_green:3001' } };
import type { ChaosMode, PoolClient, PoolProbe, TargetProbe } from '../../../src/deploy/pools/pool-client.js';
import { createStateStore, type StateStore } from '../../../src/deploy/state/state-store.js';
import type { Pool } from '../../../src/pool.js';
import type { AlertEvent } from '../../../src/shared/alert.js';

// Fakes behind the deploy layer's own interfaces. The state store and lock are the real ones on a
// temporary folder.

/** The demo image's own config, as `docker image inspect` shows it. */
export const DEMO_IMAGE_CONFIG: ConfigLike = {
  Cmd: ['node', '/app/server.mjs'],
  Env: ['PATH=/usr/bin', 'PORT=3000', 'APP_POOL=blue', 'RELEASE_ID=dev'],
  WorkingDir: '/app',
  User: 'node',
  Labels: { 'com.docker.compose.service': 'app_blue' },
};

/** A container as compose creates it from the demo image: its Config is the image's plus what compose set. */
export interface FakeContainer extends ContainerInfo {
  config: ConfigLike;
  /** Host ports it publishes (bound while it runs). */
  ports: string[];
}

export function container(service: string, over: Partial<FakeContainer> = {}): FakeContainer {
  const pool = service.replace(/^app_/, '');
  const env = { ...envRecord(DEMO_IMAGE_CONFIG.Env), APP_POOL: pool, RELEASE_ID: `${service}-v1` };
  const labels = { 'com.docker.compose.project': 'proj', 'com.docker.compose.service': service };
  const name = `proj_${service}_1`;
  return {
    id: `${service}-id-${Math.random().toString(16).slice(2, 8)}`,
    name,
    project: 'proj',
    service,
    state: 'running',
    health: 'healthy',
    image: 'bluegreen-demo-app:local',
    startedAt: new Date(Date.now() - 60_000).toISOString(),
    env,
    labels,
    networks: { proj_default: [service, name] },
    config: {
      ...DEMO_IMAGE_CONFIG,
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      Labels: { ...DEMO_IMAGE_CONFIG.Labels, ...labels },
      Healthcheck: { Test: ['CMD', 'node', '-e', 'healthz'] },
    },
    ports: service === 'app_blue' ? ['8081'] : service === 'app_green' ? ['8082'] : [],
    ...over,
  };
}

/**
 * Docker in memory: containers with a Config made of their image's config and what they were created
 * with (as Docker merges them), networks with aliases, published ports that two running containers
 * cannot share. `fail` makes the first call whose description starts with a key reject.
 */
export class FakeEngine implements ContainerEngine {
  containers: FakeContainer[] = [container('app_blue'), container('app_green'), container('nginx')];
  images = new Set(['bluegreen-demo-app:local']);
  imageConfigs = new Map<string, ConfigLike>([['bluegreen-demo-app:local', DEMO_IMAGE_CONFIG]]);
  /** Images whose containers start but never become healthy. */
  unhealthyImages = new Set<string>();
  fail = new Map<string, BluegreenError>();
  calls: string[] = [];
  /** Called after every call that changes something (tests check invariants here). */
  afterChange: (() => void) | undefined;
  /** When set, every call rejects with it (no socket, forbidden). */
  down: BluegreenError | undefined;
  #seq = 0;

  #check(call: string) {
    this.calls.push(call);
    if (this.down) throw this.down;
    for (const [prefix, err] of this.fail) {
      if (call.startsWith(prefix)) {
        this.fail.delete(prefix);
        throw err;
      }
    }
  }
  #get(id: string): FakeContainer {
    const c = this.containers.find((x) => x.id === id);
    if (!c) throw new BluegreenError('CONTAINER_NOT_FOUND', `no such container ${id}`);
    return c;
  }
  #changed() {
    this.afterChange?.();
  }
  /** Running containers answering to `alias` on any network. */
  answering(alias: string): FakeContainer[] {
    return this.containers.filter((c) => c.state === 'running' && Object.values(c.networks).some((a) => a.includes(alias)));
  }
  async list(project: string, service?: string) {
    this.#check(`list ${project} ${service ?? ''}`.trim());
    // Copies, as Docker answers: what a caller holds does not change under it.
    return this.containers.filter((c) => c.project === project && (!service || c.service === service)).map((c) => structuredClone(c));
  }
  async inspect(id: string) {
    this.#check(`inspect ${id}`);
    return structuredClone(this.#get(id));
  }
  async exec(id: string, cmd: readonly string[]) {
    this.#check(`exec ${id} ${cmd.join(' ')}`);
    return { exitCode: 0, stdout: '', stderr: '' };
  }
  async pull(image: string) {
    this.#check(`pull ${image}`);
    return false;
  }
  async imageExists(image: string) {
    this.#check(`imageExists ${image}`);
    return this.images.has(image);
  }
  async startReplacement(like: string, spec: ReplacementSpec) {
    this.#check(`startReplacement ${spec.name} ${spec.image}`);
    const old = this.#get(like);
    if (this.containers.some((c) => c.name === spec.name)) throw new BluegreenError('INTERNAL', `name ${spec.name} is already in use`);
    const set = composeSettings(old.config, this.imageConfigs.get(old.image) ?? {});
    const image = this.imageConfigs.get(spec.image) ?? DEMO_IMAGE_CONFIG;
    const labels: Record<string, string> = { ...image.Labels, ...set.labels };
    if (spec.temporary) delete labels['com.docker.compose.service'];
    const env = { ...envRecord(image.Env), ...set.env, ...spec.env };
    const ports = spec.temporary ? [] : old.ports;
    const taken = this.containers.find((c) => c.state === 'running' && c.ports.some((p) => ports.includes(p)));
    if (taken) throw new BluegreenError('INTERNAL', `start ${spec.name} failed: port is already allocated (by ${taken.name})`);
    const fresh: FakeContainer = {
      ...old,
      id: `${old.service}-new-${++this.#seq}`,
      name: spec.name,
      service: labels['com.docker.compose.service'],
      image: spec.image,
      state: 'running',
      health: 'starting',
      env,
      labels,
      networks: Object.fromEntries(Object.entries(spec.networks).map(([n, a]) => [n, [...a]])),
      config: {
        Cmd: set.Cmd ?? image.Cmd,
        Entrypoint: set.Entrypoint ?? image.Entrypoint,
        WorkingDir: set.WorkingDir ?? image.WorkingDir,
        User: set.User ?? image.User,
        Healthcheck: set.Healthcheck ?? image.Healthcheck,
        Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
        Labels: labels,
      },
      ports,
    };
    this.containers.push(fresh);
    this.#changed();
    return structuredClone(fresh);
  }
  async connect(id: string, networks: Readonly<Record<string, readonly string[]>>) {
    this.#check(`connect ${id}`);
    const c = this.#get(id);
    c.networks = { ...c.networks, ...Object.fromEntries(Object.entries(networks).map(([n, a]) => [n, [...a]])) };
    this.#changed();
  }
  async disconnect(id: string, networks: readonly string[]) {
    this.#check(`disconnect ${id}`);
    const c = this.#get(id);
    c.networks = Object.fromEntries(Object.entries(c.networks).filter(([n]) => !networks.includes(n)));
    this.#changed();
  }
  async stop(id: string) {
    this.#check(`stop ${id}`);
    this.#get(id).state = 'exited';
    this.#changed();
  }
  /** What each helper prints once started (chaos loss/delay): `applied`, or `refused: …`. */
  helperSays = 'applied\n';
  helpers: { id: string; image: string; args: readonly string[]; joinNetworkOf: string; capAdd: readonly string[] }[] = [];
  async runHelper(spec: HelperSpec): Promise<string> {
    this.#check(`runHelper ${spec.image}`);
    const id = `helper-${this.helpers.length + 1}`;
    this.helpers.push({ id, image: spec.image, args: spec.args, joinNetworkOf: spec.joinNetworkOf, capAdd: spec.capAdd });
    this.containers.push(container(`helper${this.helpers.length}`, { id, name: id, state: this.helperSays.startsWith('refused') ? 'exited' : 'running', labels: { ...spec.labels } }));
    return id;
  }
  async logs(id: string): Promise<string> {
    this.#get(id);
    return this.helperSays;
  }
  async kill(id: string) {
    this.#check(`kill ${id}`);
    const c = this.#get(id);
    if (c.state === 'running' || c.state === 'paused') c.state = 'exited';
    this.#changed();
  }
  async pause(id: string) {
    this.#check(`pause ${id}`);
    const c = this.#get(id);
    if (c.state !== 'running') throw new BluegreenError('INTERNAL', `pause ${c.name} failed: container is not running`);
    c.state = 'paused';
    this.#changed();
  }
  async unpause(id: string) {
    this.#check(`unpause ${id}`);
    const c = this.#get(id);
    if (c.state === 'paused') c.state = 'running';
    this.#changed();
  }
  async start(id: string) {
    this.#check(`start ${id}`);
    const c = this.#get(id);
    const taken = this.containers.find((x) => x !== c && x.state === 'running' && x.ports.some((p) => c.ports.includes(p)));
    if (taken) throw new BluegreenError('INTERNAL', `start ${c.name} failed: port is already allocated`);
    c.state = 'running';
    this.#changed();
  }
  async rename(id: string, name: string) {
    this.#check(`rename ${id} ${name}`);
    if (this.containers.some((c) => c.name === name && c.id !== id)) throw new BluegreenError('INTERNAL', `name ${name} is already in use`);
    this.#get(id).name = name;
    this.#changed();
  }
  async remove(id: string) {
    this.#check(`remove ${id}`);
    this.#get(id);
    this.containers = this.containers.filter((c) => c.id !== id);
    this.#changed();
  }
  async waitHealthy(id: string) {
    this.#check(`waitHealthy ${id}`);
    const c = this.#get(id);
    if (this.unhealthyImages.has(c.image)) {
      c.health = 'unhealthy';
      throw new BluegreenError('POOL_UNHEALTHY', `container ${c.name} is unhealthy`);
    }
    c.health = 'healthy';
    return structuredClone(c);
  }
}

/** A one-container pool's probe: healthy or not, with what it answered (`outcome` for a silent one). */
export function poolProbe(healthy: boolean, detail: string, over: Partial<PoolProbe> & { outcome?: TargetProbe['outcome'] } = {}): PoolProbe {
  const { outcome, ...rest } = over;
  const target: TargetProbe = { name: 'app', outcome: outcome ?? (healthy ? 'healthy' : 'unhealthy'), detail };
  return { healthy, detail, ms: 1, healthyTargets: healthy ? 1 : 0, desired: 1, targets: [target], ...rest };
}

export class FakePools implements PoolClient {
  healthy: Record<Pool, boolean> = { blue: true, green: true };
  /** Healthy tasks of desired, when set: a pool of several tasks (Swarm mode). */
  capacity: Partial<Record<Pool, { healthy: number; desired: number }>> = {};
  chaosMode: Record<Pool, ChaosMode | null> = { blue: null, green: null };
  probes = 0;
  async health(pool: Pool): Promise<PoolProbe> {
    this.probes++;
    const c = this.capacity[pool];
    if (c) {
      const healthy = c.healthy >= 1 && c.healthy * 2 >= c.desired;
      return { healthy, detail: `${c.healthy} of ${c.desired} tasks healthy`, ms: 1, healthyTargets: c.healthy, desired: c.desired, targets: [] };
    }
    const h = this.healthy[pool];
    return poolProbe(h, h ? 'HTTP 200' : 'HTTP 503');
  }
  async chaos(pool: Pool) {
    return this.chaosMode[pool];
  }
  async startChaos(pool: Pool, mode: ChaosMode) {
    this.chaosMode[pool] = mode;
    this.healthy[pool] = false;
  }
  async stopChaos(pool: Pool) {
    this.chaosMode[pool] = null;
    this.healthy[pool] = true;
  }
}

/** nginx as flags in memory; `serves` decides what verification sees. */
export class FakeNginx implements NginxControl {
  active: Pool = 'blue';
  reloads = 0;
  /** What a reload resolves `app_<pool>` to (nginx resolves names at load); set by harness(). */
  resolveNames: (() => Record<Pool, string[]>) | undefined;
  /** Container ids nginx sends app_blue / app_green traffic to, as of the last load. */
  resolved: Record<Pool, string[]> = { blue: [], green: [] };
  /** What nginx answers from after a flag change; default: the flagged pool. */
  serves: ((flagged: Pool) => Pool | undefined) | undefined;
  history: Pool[] = [];
  async activePool() {
    return this.active;
  }
  async setActive(pool: Pool) {
    // Yield like real file I/O does, so concurrent callers interleave unless serialized.
    await new Promise((r) => setImmediate(r));
    this.active = pool;
    this.history.push(pool);
  }
  /** What the target's failed checks answered, as nginx would report them ("500"), when it does not serve. */
  failedWith: string | undefined;
  /** nginx routes to the target but had benched it (it failed real requests): the other pool answers. */
  benchedTarget = false;
  async verifyServing(pool: Pool): Promise<Verification> {
    await new Promise((r) => setImmediate(r));
    const got = this.serves ? this.serves(this.active) : this.active;
    if (got === pool) return { ms: 5, checks: 3, answered: 3, failedOver: {}, benched: 0, skipped: 0, noAnswer: 0 };
    if (this.benchedTarget) return { ms: undefined, checks: 10, answered: 0, failedOver: {}, benched: 10, skipped: 0, noAnswer: 0 };
    return this.failedWith
      ? { ms: undefined, checks: 11, answered: 7, failedOver: { [this.failedWith]: 4 }, benched: 0, skipped: 0, noAnswer: 0 }
      : { ms: undefined, checks: 10, answered: 0, failedOver: {}, benched: 0, skipped: 10, noAnswer: 0 };
  }
  page = false;
  /** What verification sees of the page after a flag change; default: the flag. */
  pageServed: ((flag: boolean) => boolean) | undefined;
  async maintenancePage() {
    return this.page;
  }
  async setMaintenancePage(on: boolean) {
    await new Promise((r) => setImmediate(r));
    this.page = on;
  }
  async verifyPage(on: boolean) {
    await new Promise((r) => setImmediate(r));
    const got = this.pageServed ? this.pageServed(this.page) : this.page;
    return got === on ? 4 : undefined;
  }
  configError: Error | undefined;
  async testConfig() {
    if (this.configError) throw this.configError;
  }
  /** Reload attempts (1-based) that fail as if `nginx -t` had. */
  failReloads = new Set<number>();
  #reloadCalls = 0;
  async testAndReload() {
    await this.testConfig();
    if (this.failReloads.has(++this.#reloadCalls)) throw new BluegreenError('NGINX_CONFIG_INVALID', 'nginx -t failed: [emerg] host not found in upstream');
    this.reloads++;
    if (this.resolveNames) this.resolved = this.resolveNames();
  }
  /** Member lists as applied (Swarm mode), newest last. */
  memberHistory: Record<Pool, string[]>[] = [];
  async readMembers() {
    const last = this.memberHistory.at(-1);
    return last && { blue: [...last.blue], green: [...last.green] };
  }
  async applyMembers(members: Readonly<Record<Pool, readonly string[]>>): Promise<'reloaded' | 'unchanged'> {
    await this.testConfig();
    const next = { blue: [...members.blue], green: [...members.green] };
    const last = this.memberHistory.at(-1);
    if (last && JSON.stringify(last) === JSON.stringify(next)) return 'unchanged';
    this.memberHistory.push(next);
    this.reloads++;
    return 'reloaded';
  }
  /** Releases as published for the access log, newest last. */
  releaseHistory: Record<Pool, string | undefined>[] = [];
  async publishReleases(releases: Readonly<Record<Pool, string | undefined>>): Promise<'reloaded' | 'unchanged'> {
    await this.testConfig();
    const last = this.releaseHistory.at(-1);
    this.releaseHistory.push({ ...releases });
    return last && last.blue === releases.blue && last.green === releases.green ? 'unchanged' : 'reloaded';
  }
}

export function captureLogger(): { log: Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk.toString());
      cb();
    },
  });
  const log = createLogger({ level: 'debug', destination: dest });
  return { log, lines: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

export interface Harness {
  ops: Operations;
  engine: FakeEngine;
  pools: FakePools;
  nginx: FakeNginx;
  store: StateStore;
  alerts: AlertEvent[];
  dir: string;
  switched: string[];
}

export interface HarnessOptions extends Partial<OperationsDeps> {
  /** The engine under the use cases, built over the harness's fakes [Compose over FakeEngine]. */
  engineOf?: (parts: { nginx: FakeNginx; settings: OperationsSettings; log: Logger; docker: FakeEngine }) => DeployEngine;
}

export const SETTINGS: OperationsSettings = { envName: 'test', healthTimeoutMs: 100, verifyTimeoutMs: 100, deployHealthTimeoutMs: 1000, maintenanceDefaultMs: 3_600_000, chaosDefaultMs: 300_000, chaosMaxMs: 1_800_000, releaseIds: {} };

export async function harness({ engineOf, ...over }: HarnessOptions = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'bg-deploy-'));
  const engine = new FakeEngine();
  const pools = new FakePools();
  const nginx = new FakeNginx();
  nginx.resolveNames = () => ({ blue: engine.answering('app_blue').map((c) => c.id), green: engine.answering('app_green').map((c) => c.id) });
  nginx.resolved = nginx.resolveNames();
  const store = createStateStore(dir);
  const alerts: AlertEvent[] = [];
  const switched: string[] = [];
  const settings = over.settings ?? SETTINGS;
  const log = captureLogger().log;
  const deployEngine =
    engineOf?.({ nginx, settings, log, docker: engine }) ??
    createComposeEngine({ docker: engine, project: async () => 'proj', nginx, urls: COMPOSE_URLS, deployHealthTimeoutMs: settings.deployHealthTimeoutMs });
  const ops = createOperations({
    engine: () => Promise.resolve(deployEngine),
    nginx,
    pools,
    containers: engine,
    store,
    lock: createOpLock({ dir, waitMs: 2000 }),
    raise: (a) => void alerts.push(a),
    settings,
    log,
    onSwitched: (r) => switched.push(`${r.kind}:${r.from}->${r.to}`),
    ...over,
  });
  return { ops, engine, pools, nginx, store, alerts, dir, switched };
}

export const alice = { kind: 'cli' as const, id: 'alice', name: 'alice' };
