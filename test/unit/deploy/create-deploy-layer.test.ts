import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../src/config.js';
import { BluegreenError } from '../../../src/errors.js';
import type { ClusterSnapshot } from '../../../src/deploy/swarm/cluster.js';
import { createDeployLayer } from '../../../src/deploy/create-deploy-layer.js';
import { alice, captureLogger, container, FakeEngine, FakePools, poolProbe } from './fakes.js';
import { FakeSwarm, MANAGER, poolTask, swarmNode, WORKER } from './swarm/fake-swarm.js';

async function eventually(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(check());
}

describe('deploy layer from config', () => {
  it('builds without a Docker socket, logs the problem at start, and status names it', async () => {
    const nginxDir = await mkdtemp(join(tmpdir(), 'bg-flags-'));
    const stateDir = await mkdtemp(join(tmpdir(), 'bg-state-'));
    await writeFile(join(nginxDir, 'active-green'), '');
    const config = loadConfig({
      NGINX_STATE_DIR: nginxDir,
      STATE_DIR: stateDir,
      DOCKER_SOCKET: join(stateDir, 'no-such.sock'),
      HEALTH_CHECK_INTERVAL_MS: '100',
      AUTO_FAILOVER: 'false',
    });
    const { log, lines } = captureLogger();
    const pools = new FakePools();
    pools.chaosMode.blue = 'error';
    pools.health = async (pool) => poolProbe(pool === 'green', 'x', { chaos: pools.chaosMode[pool] });
    const layer = createDeployLayer({ config, log, pools, selfId: 'not-a-container' });
    layer.start();
    try {
      await eventually(() => lines().some((l) => l.msg === 'deploy control cannot use Docker; switch and chaos still work, status and deploy report the problem'));
      const logged = lines().find((l) => typeof l.problem === 'string');
      assert.match(String(logged?.problem), /Docker is not reachable at .*no-such\.sock \(ENOENT\)/);

      await eventually(() => layer.view().activePool === 'green' && layer.view().chaos('blue'));
      assert.equal(layer.view().chaos('green'), false);
      assert.equal(layer.view().maintenance, false);

      await layer.ops.setMaintenance(true, { by: alice, durationMs: 60_000 });
      await eventually(() => layer.view().maintenance);

      const s = await layer.ops.status();
      assert.equal(s.status, 'ok');
      const docker = s.status === 'ok' ? s.data?.docker : undefined;
      assert.equal(docker?.ok, false);
    } finally {
      await layer.stop();
    }
  });

  it('MAINTENANCE_MODE=true seeds the first start only: commands own maintenance afterwards, and status tells the truth', async () => {
    const nginxDir = await mkdtemp(join(tmpdir(), 'bg-flags-'));
    const stateDir = await mkdtemp(join(tmpdir(), 'bg-state-'));
    const config = loadConfig({ NGINX_STATE_DIR: nginxDir, STATE_DIR: stateDir, MAINTENANCE_MODE: 'true', AUTO_FAILOVER: 'false', HEALTH_CHECK_INTERVAL_MS: '100' });
    const start = () => {
      const layer = createDeployLayer({ config, log: captureLogger().log, pools: new FakePools(), selfId: 'not-a-container' });
      layer.start();
      return layer;
    };
    const first = start();
    try {
      await eventually(() => first.view().maintenance);
      const seeded = (await first.ops.readState()).maintenance;
      assert.equal(seeded.on, true);
      assert.equal(seeded.by?.id, 'MAINTENANCE_MODE');
      const off = await first.ops.setMaintenance(false, { by: alice });
      assert.equal(off.status, 'ok');
      await eventually(() => !first.view().maintenance);
    } finally {
      await first.stop();
    }
    // A restart with the variable still set does not turn it back on.
    const second = start();
    try {
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(second.view().maintenance, false);
      assert.equal((await second.ops.readState()).maintenance.on, false);
    } finally {
      await second.stop();
    }
  });

  it('names the environment after the compose project (not the container id) unless ENV_NAME says otherwise', async () => {
    const dirs = { NGINX_STATE_DIR: await mkdtemp(join(tmpdir(), 'bg-flags-')), STATE_DIR: await mkdtemp(join(tmpdir(), 'bg-state-')) };
    const layer = createDeployLayer({ config: loadConfig({ ...dirs, COMPOSE_PROJECT_NAME: 'shop', AUTO_FAILOVER: 'false' }), log: captureLogger().log, pools: new FakePools(), engine: new FakeEngine(), selfId: 'c0ffee' });
    assert.equal(layer.envName(), hostname(), 'before Docker answered: the host name');
    const s = await layer.ops.status();
    assert.equal(s.status === 'ok' ? s.data?.env : undefined, 'shop');
    assert.equal(layer.envName(), 'shop');
    const named = createDeployLayer({ config: loadConfig({ ...dirs, ENV_NAME: 'prod-eu-1', COMPOSE_PROJECT_NAME: 'shop' }), log: captureLogger().log, pools: new FakePools(), engine: new FakeEngine() });
    await named.ops.status();
    assert.equal(named.envName(), 'prod-eu-1');
  });
});

async function dirsOf() {
  return { NGINX_STATE_DIR: await mkdtemp(join(tmpdir(), 'bg-flags-')), STATE_DIR: await mkdtemp(join(tmpdir(), 'bg-state-')), AUTO_FAILOVER: 'false' };
}

describe('deploy layer: Compose or Swarm mode', () => {
  /** A layer with Docker in memory; `stacks` lists every stack the Swarm factory was asked for. */
  async function layerWith(env: Record<string, string>, opts: { selfLabels?: Record<string, string>; fake?: FakeSwarm } = {}) {
    const engine = new FakeEngine();
    if (opts.selfLabels) engine.containers.push(container('bot', { id: 'botself', labels: opts.selfLabels }));
    const stacks: string[] = [];
    const layer = createDeployLayer({
      config: loadConfig({ ...(await dirsOf()), ...env }),
      log: captureLogger().log,
      pools: new FakePools(),
      engine,
      selfId: 'botself',
      swarmControl: (stack) => {
        stacks.push(stack);
        return opts.fake ?? new FakeSwarm(undefined, stack);
      },
    });
    return { layer, engine, stacks };
  }

  it('DEPLOY_MODE=swarm with no STACK_NAME and no stack label: status and deploy say what to set', async () => {
    for (const selfLabels of [{ 'com.docker.compose.project': 'proj' }, undefined]) {
      // undefined: the CLI on a host, not in a container at all.
      const { layer, stacks } = await layerWith({ DEPLOY_MODE: 'swarm' }, selfLabels ? { selfLabels } : {});
      const s = await layer.ops.status();
      assert.equal(s.status, 'ok');
      const docker = s.status === 'ok' ? s.data?.docker : undefined;
      assert.equal(docker?.ok, false);
      assert.match(docker?.ok === false ? docker.error : '', /DEPLOY_MODE=swarm, but the bot cannot tell which stack it drives \(set STACK_NAME/);
      const d = await layer.ops.deploy('green', 'bluegreen-demo-app:v2', { by: alice });
      assert.equal(d.status, 'failed');
      assert.match(d.status === 'failed' ? d.message : '', /cannot tell which stack/);
      assert.deepEqual(stacks, []);
    }
  });

  it('STACK_NAME: Swarm mode on that stack, asked for once; status shows the services and the stack names the environment', async () => {
    const { layer, engine, stacks } = await layerWith({ STACK_NAME: 'shop' });
    const s = await layer.ops.status();
    await layer.ops.status();
    assert.deepEqual(stacks, ['shop']);
    const report = s.status === 'ok' ? s.data : undefined;
    assert.deepEqual(report?.docker, { ok: true, project: 'shop' });
    assert.equal(report?.pools[0]?.runs?.running, 2);
    assert.equal(report?.pools[0]?.runs?.unit, 'service bg_app_blue', 'the fake names its services bg_*');
    assert.equal(layer.envName(), 'shop');
    assert.ok(!engine.calls.some((c) => c.startsWith('inspect')), 'a configured stack needs no detection');
    const scaled = await layer.ops.scale('green', 3, { force: false, by: alice });
    assert.equal(scaled.status, 'ok', JSON.stringify(scaled));
  });

  it("auto: the stack of the bot's own container label", async () => {
    const { layer, stacks } = await layerWith({}, { selfLabels: { 'com.docker.stack.namespace': 'edge', 'com.docker.swarm.service.name': 'edge_bot' } });
    const s = await layer.ops.status();
    assert.deepEqual(stacks, ['edge']);
    assert.deepEqual(s.status === 'ok' ? s.data?.docker : undefined, { ok: true, project: 'edge' });
  });

  it('auto: a Docker that does not answer yet is asked again at the next operation, not taken for Compose', async () => {
    const { layer, engine, stacks } = await layerWith({}, { selfLabels: { 'com.docker.stack.namespace': 'edge' } });
    engine.down = new BluegreenError('DOCKER_UNAVAILABLE', 'Docker is not reachable at /var/run/docker.sock (ENOENT)');
    const first = await layer.ops.status();
    assert.equal(first.status === 'ok' ? first.data?.docker.ok : undefined, false);
    engine.down = undefined;
    const second = await layer.ops.status();
    assert.deepEqual(second.status === 'ok' ? second.data?.docker : undefined, { ok: true, project: 'edge' });
    assert.deepEqual(stacks, ['edge']);
  });

  it('DEPLOY_MODE=compose never asks for Swarm, even with STACK_NAME set or a stack label', async () => {
    const { layer, engine, stacks } = await layerWith({ DEPLOY_MODE: 'compose', STACK_NAME: 'shop', COMPOSE_PROJECT_NAME: 'proj' }, { selfLabels: { 'com.docker.stack.namespace': 'shop' } });
    const s = await layer.ops.status();
    assert.deepEqual(s.status === 'ok' ? s.data?.docker : undefined, { ok: true, project: 'proj' });
    assert.match(s.status === 'ok' ? (s.data?.pools[0]?.runs?.unit ?? '') : '', /^container /);
    const scaled = await layer.ops.scale('green', 3, { force: false, by: alice });
    assert.equal(scaled.status, 'refused');
    assert.deepEqual(stacks, []);
    assert.ok(!engine.calls.some((c) => c.startsWith('inspect')), engine.calls.join('\n'));
  });

  it('start() in Swarm mode: nginx gets the serving tasks as members, and the cluster watch every snapshot', async () => {
    const env = await dirsOf();
    const fake = new FakeSwarm(undefined, 'shop');
    fake.state.nodes = [swarmNode(MANAGER), swarmNode(WORKER, { state: 'down' })];
    const engine = new FakeEngine();
    const seen: ClusterSnapshot[] = [];
    const layer = createDeployLayer({
      config: loadConfig({ ...env, STACK_NAME: 'shop', SWARM_SYNC_MS: '100', APP_PORT: '3000' }),
      log: captureLogger().log,
      pools: new FakePools(),
      engine,
      selfId: 'botself',
      swarmControl: () => fake,
      onClusterSnapshot: (snap) => seen.push(snap),
    });
    layer.start();
    try {
      await eventually(() => seen.length >= 2);
      const members = await readFile(join(env.NGINX_STATE_DIR, 'members-blue'), 'utf8');
      assert.deepEqual(
        members.split('\n').filter((l) => l && !l.startsWith('#')),
        ['10.0.1.11:3000'],
        'the task on the down worker is left out',
      );
      assert.ok(engine.calls.includes('exec nginx-task-container bluegreen-nginx-members apply'), engine.calls.join('\n'));
      assert.ok(fake.calls.includes('localContainer nginx'));
    } finally {
      await layer.stop();
    }
  });
});

describe('deploy layer in Swarm mode: chaos reaches every serving task by its address', () => {
  async function listenOn(server: Server, host: string, port: number): Promise<void> {
    server.listen(port, host);
    await once(server, 'listening');
  }

  it('starts chaos on the tasks at ADMIN_PORT, not on a task of a node that is down', async () => {
    const seen: string[] = [];
    const admin = (host: string) =>
      createServer((req, res) => {
        seen.push(`${host} ${req.method} ${req.url}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"chaos":"error"}');
      });
    // Two task addresses with one port, as in a swarm: 127.0.0.1 and 127.0.0.2 are both loopback.
    const servers = [admin('127.0.0.1'), admin('127.0.0.2'), admin('127.0.0.3')];
    await listenOn(servers[0] as Server, '127.0.0.1', 0);
    const addr = servers[0]?.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    await listenOn(servers[1] as Server, '127.0.0.2', port);
    await listenOn(servers[2] as Server, '127.0.0.3', port);
    try {
      const fake = new FakeSwarm(undefined, 'shop');
      fake.state.nodes.push(swarmNode('gone00000000', { state: 'down' }));
      fake.state.pools.green.tasks = [
        poolTask('green', 1, { address: '127.0.0.1' }),
        poolTask('green', 2, { address: '127.0.0.2' }),
        poolTask('green', 3, { address: '127.0.0.3', nodeId: 'gone00000000' }),
      ];
      const layer = createDeployLayer({
        config: loadConfig({ ...(await dirsOf()), STACK_NAME: 'shop', ADMIN_PORT: String(port) }),
        log: captureLogger().log,
        engine: new FakeEngine(),
        selfId: 'botself',
        swarmControl: () => fake,
      });
      const r = await layer.ops.startChaos('green', 'error', { force: false, by: alice });
      assert.equal(r.status, 'ok', JSON.stringify(r));
      assert.deepEqual([...seen].sort(), ['127.0.0.1 POST /chaos/start?mode=error', '127.0.0.2 POST /chaos/start?mode=error']);
    } finally {
      for (const s of servers) s.close();
    }
  });
});
