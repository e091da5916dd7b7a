import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { BluegreenError } from '../../../src/errors.js';
import { createLogger, type Logger } from '../../../src/log.js';
import type { ContainerEngine, ContainerInfo, RecreateSpec } from '../../../src/deploy/container-engine.js';
import type { NginxControl } from '../../../src/deploy/nginx-control.js';
import { createOpLock } from '../../../src/deploy/op-lock.js';
import { createOperations, type Operations, type OperationsDeps } from '../../../src/deploy/operations.js';
import type { ChaosMode, PoolClient } from '../../../src/deploy/pool-client.js';
import { createStateStore, type StateStore } from '../../../src/deploy/state-store.js';
import type { Pool } from '../../../src/pool.js';
import type { AlertEvent } from '../../../src/watcher/alert.js';

// Fakes behind the deploy layer's own interfaces. The state store and lock are the real ones on a
// temporary folder.

export function container(service: string, over: Partial<ContainerInfo> = {}): ContainerInfo {
  return {
    id: `${service}-id-${Math.random().toString(16).slice(2, 8)}`,
    name: `proj_${service}_1`,
    project: 'proj',
    service,
    state: 'running',
    health: 'healthy',
    image: 'bluegreen-demo-app:local',
    startedAt: new Date(Date.now() - 60_000).toISOString(),
    env: { RELEASE_ID: `${service}-v1` },
    labels: {},
    ...over,
  };
}

export class FakeEngine implements ContainerEngine {
  containers: ContainerInfo[] = [container('app_blue'), container('app_green'), container('nginx')];
  images = new Set(['bluegreen-demo-app:local']);
  calls: string[] = [];
  /** When set, every call rejects with it (no socket, forbidden). */
  down: BluegreenError | undefined;

  #check(call: string) {
    this.calls.push(call);
    if (this.down) throw this.down;
  }
  async list(project: string, service?: string) {
    this.#check(`list ${project} ${service ?? ''}`.trim());
    return this.containers.filter((c) => c.project === project && (!service || c.service === service));
  }
  async inspect(id: string) {
    this.#check(`inspect ${id}`);
    const c = this.containers.find((x) => x.id === id);
    if (!c) throw new BluegreenError('CONTAINER_NOT_FOUND', `no such container ${id}`);
    return c;
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
  async recreate(id: string, spec: RecreateSpec) {
    this.#check(`recreate ${id} ${spec.image}`);
    const i = this.containers.findIndex((x) => x.id === id);
    const old = this.containers[i]!;
    const fresh = { ...old, id: `${old.service}-new`, image: spec.image, env: { ...old.env, ...spec.env }, health: 'starting' as const };
    this.containers[i] = fresh;
    return fresh;
  }
  async waitHealthy(id: string) {
    this.#check(`waitHealthy ${id}`);
    const c = await this.inspect(id);
    c.health = 'healthy';
    return c;
  }
}

export class FakePools implements PoolClient {
  healthy: Record<Pool, boolean> = { blue: true, green: true };
  chaosMode: Record<Pool, ChaosMode | null> = { blue: null, green: null };
  probes = 0;
  async health(pool: Pool) {
    this.probes++;
    const h = this.healthy[pool];
    return { healthy: h, detail: h ? 'HTTP 200' : 'HTTP 503', ms: 1 };
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
  async verifyServing(pool: Pool) {
    await new Promise((r) => setImmediate(r));
    const got = this.serves ? this.serves(this.active) : this.active;
    return got === pool ? 5 : undefined;
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
  async testAndReload() {
    await this.testConfig();
    this.reloads++;
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

export async function harness(over: Partial<OperationsDeps> = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'bg-deploy-'));
  const engine = new FakeEngine();
  const pools = new FakePools();
  const nginx = new FakeNginx();
  const store = createStateStore(dir);
  const alerts: AlertEvent[] = [];
  const switched: string[] = [];
  const ops = createOperations({
    engine,
    project: async () => 'proj',
    nginx,
    pools,
    store,
    lock: createOpLock({ dir, waitMs: 2000 }),
    raise: (a) => void alerts.push(a),
    settings: { envName: 'test', healthTimeoutMs: 100, verifyTimeoutMs: 100, deployHealthTimeoutMs: 1000, maintenanceDefaultMs: 3_600_000, releaseIds: {} },
    log: captureLogger().log,
    onSwitched: (r) => switched.push(`${r.kind}:${r.from}->${r.to}`),
    ...over,
  });
  return { ops, engine, pools, nginx, store, alerts, dir, switched };
}

export const alice = { kind: 'cli' as const, id: 'alice', name: 'alice' };
