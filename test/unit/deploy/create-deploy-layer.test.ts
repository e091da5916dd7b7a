import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../src/config.js';
import { createDeployLayer } from '../../../src/deploy/create-deploy-layer.js';
import { alice, captureLogger, FakePools } from './fakes.js';

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
});
