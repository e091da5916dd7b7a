import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../src/config.js';
import { createDeployLayer } from '../../../src/deploy/create-deploy-layer.js';
import { alice, captureLogger, FakeEngine, FakePools } from './fakes.js';

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
    pools.health = async (pool) => ({ healthy: pool === 'green', detail: 'x', ms: 1, chaos: pools.chaosMode[pool] });
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
