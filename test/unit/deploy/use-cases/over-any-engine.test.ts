import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BluegreenError } from '../../../../src/errors.js';
import { failed } from '../../../../src/shared/op-result.js';
import { alice, harness, SETTINGS } from '../fakes.js';
import { description, FakeDeployEngine } from '../fake-deploy-engine.js';

// What the use cases do around whichever engine runs the pools, with one fake engine: the checks
// they make before asking it, what they record after, and how they answer when it cannot be read.

async function withEngine(settings = SETTINGS) {
  const engine = new FakeDeployEngine();
  const h = await harness({ engineOf: () => engine, settings });
  return { ...h, fake: engine };
}

const text = (r: { status: string; message?: string; reason?: string }) => (r.status === 'refused' ? r.reason : r.message) ?? '';

describe('use cases over any engine', () => {
  it('deploy: refuses the active pool and a config nginx rejects without asking the engine', async () => {
    const h = await withEngine();
    const r = await h.ops.deploy('blue', 'app:v2', { by: alice });
    assert.equal(r.status, 'refused');
    assert.match(text(r), /blue is the active pool; deploy goes to the idle pool \(green\)/);
    h.nginx.configError = new BluegreenError('NGINX_CONFIG_INVALID', 'nginx -t failed: [emerg] unknown directive');
    const bad = await h.ops.deploy('green', 'app:v2', { by: alice });
    assert.equal(bad.status, 'failed');
    assert.deepEqual(h.fake.calls, [], 'the engine was never asked');
  });

  it("deploy: hands the engine the idle pool, the image, RELEASE_ID and the active pool; records the release the engine reports", async () => {
    const h = await withEngine();
    const steps: string[] = [];
    const r = await h.ops.deploy('green', 'app:v2', { by: alice, releaseId: 'r-7', progress: (s) => steps.push(s) });
    assert.equal(r.status, 'ok');
    // Then nginx is told what each pool runs, as the engine says it, for its access log.
    assert.deepEqual(h.fake.calls, ['deploy green app:v2 {"RELEASE_ID":"r-7"} active=blue', 'release blue', 'release green']);
    assert.deepEqual(h.nginx.releaseHistory.at(-1), { blue: h.fake.pools.blue.release, green: h.fake.pools.green.release });
    assert.equal(steps[0], 'nginx config test passed');
    const rec = (await h.store.read()).releases.green;
    assert.deepEqual(rec && [rec.image, rec.releaseId, rec.by.id], ['app:v2', 'r-7', 'alice']);
    assert.deepEqual((await h.store.readAudit()).map((a) => [a.op, a.result]), [['deploy', 'ok']]);
  });

  it('deploy: an engine that failed leaves no release recorded, and its words reach the answer', async () => {
    const h = await withEngine();
    h.fake.deployAnswer = () => failed('deploy of app:v2 to green failed: the new release never turned healthy', 'look at its logs');
    const r = await h.ops.deploy('green', 'app:v2', { by: alice });
    assert.equal(r.status, 'failed');
    assert.match(text(r), /never turned healthy/);
    assert.equal((await h.store.read()).releases.green, undefined);
  });

  it('scale: 0 units of the active pool is refused unless forced; otherwise the engine answers', async () => {
    const h = await withEngine();
    const zero = await h.ops.scale('blue', 0, { force: false, by: alice });
    assert.equal(zero.status, 'refused');
    assert.match(text(zero), /blue is the active pool: with 0 tasks every request would go to the backup green/);
    assert.deepEqual(h.fake.calls, []);
    assert.equal((await h.ops.scale('green', 3, { force: false, by: alice })).status, 'ok');
    assert.equal((await h.ops.scale('blue', 0, { force: true, by: alice })).status, 'ok');
    assert.deepEqual(h.fake.calls, ['scale green 3', 'scale blue 0']);
    const r = await h.ops.rebalance('green', { by: alice });
    assert.deepEqual([r.status, text(r)], ['refused', 'nothing to spread over']);
  });

  it("status: each pool as the engine describes it, the engine's project; a Docker it cannot read is named and the rest still answers", async () => {
    const h = await withEngine({ ...SETTINGS, releaseIds: { green: 'configured-green' } });
    h.fake.pools.green = description({ unit: 'service s_app_green', state: '1/2 running', running: 1, desired: 2, release: undefined });
    const s = await h.ops.status();
    const r = s.status === 'ok' ? s.data : assert.fail(text(s));
    assert.deepEqual(r?.docker, { ok: true, project: 'fake-project' });
    assert.deepEqual(r?.pools.map((p) => [p.pool, p.runs?.unit, p.release]), [
      ['blue', 'unit app_blue', 'blue-v1'],
      ['green', 'service s_app_green', 'configured-green'],
    ]);
    h.fake.down = new BluegreenError('DOCKER_UNAVAILABLE', 'Docker is not reachable at /var/run/docker.sock (ENOENT)');
    const d = await h.ops.status();
    const down = d.status === 'ok' ? d.data : assert.fail(text(d));
    assert.equal(down?.docker.ok, false);
    assert.deepEqual(down?.pools.map((p) => [p.runs, p.release]), [
      [undefined, undefined],
      [undefined, 'configured-green'],
    ]);
  });

  it("switch: names the release the engine reports, the configured one when the engine cannot be read, and never needs the engine to move traffic", async () => {
    const h = await withEngine({ ...SETTINGS, releaseIds: { blue: 'configured-blue' } });
    const r = await h.ops.switchPool('green', { force: false, by: alice });
    assert.equal(r.status === 'ok' ? r.data?.release : undefined, 'green-v1');
    h.fake.down = new BluegreenError('DOCKER_UNAVAILABLE', 'Docker is not reachable');
    const back = await h.ops.switchPool('blue', { force: false, by: alice });
    assert.equal(back.status, 'ok');
    assert.equal(back.status === 'ok' ? back.data?.release : undefined, 'configured-blue');
    assert.equal(h.nginx.active, 'blue');
  });
});
