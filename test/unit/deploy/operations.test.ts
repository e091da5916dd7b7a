import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BluegreenError } from '../../../src/errors.js';
import { alice, harness, poolProbe, type Harness } from './fakes.js';

describe('switchPool', () => {
  it('moves traffic to a healthy pool, records the previous pool and audits', async () => {
    const h = await harness();
    const r = await h.ops.switchPool('green', { force: false, by: alice });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    assert.equal(h.nginx.active, 'green');
    assert.deepEqual(r.status === 'ok' && r.data && { from: r.data.from, to: r.data.to, changed: r.data.changed }, { from: 'blue', to: 'green', changed: true });
    const s = await h.store.read();
    assert.equal(s.previousPool, 'blue');
    assert.equal(s.lastSwitch?.to, 'green');
    assert.equal(s.lastSwitch?.by.id, 'alice');
    assert.deepEqual(h.switched, ['switch:blue->green']);
    const audit = await h.store.readAudit();
    assert.equal(audit.length, 1);
    assert.equal(audit[0]?.op, 'switch');
    assert.equal(audit[0]?.result, 'ok');
    assert.deepEqual(audit[0]?.args, { pool: 'green', force: false });
    // What the channel's switch message shows, whoever made the switch.
    assert.deepEqual(audit[0]?.switch && { from: audit[0].switch.from, to: audit[0].switch.to, ms: audit[0].switch.ms }, { from: 'blue', to: 'green', ms: 5 });
  });

  it('tells each step as it happens: health gate, flags, nginx serving', async () => {
    const h = await harness();
    const steps: string[] = [];
    const r = await h.ops.switchPool('green', { force: false, by: alice, progress: (s) => steps.push(s) });
    assert.equal(r.status, 'ok');
    assert.deepEqual(steps, ['health check of green', 'green is healthy', 'nginx told to send traffic to green; waiting until it does']);
    // A switch nginx does not carry out says what it puts back.
    const h2 = await harness();
    h2.nginx.serves = () => 'blue';
    steps.length = 0;
    await h2.ops.switchPool('green', { force: false, by: alice, progress: (s) => steps.push(s) });
    assert.equal(steps.at(-1), 'nginx did not serve green within 100 ms (10 of 10 went to blue without trying green (nginx still routed to blue)): restoring blue');
  });

  it('says so when the pool is already active, and changes nothing', async () => {
    const h = await harness();
    const r = await h.ops.switchPool('blue', { force: false, by: alice });
    assert.equal(r.status, 'ok');
    assert.match(r.status === 'ok' ? r.message : '', /already active; nothing changed/);
    assert.deepEqual(h.nginx.history, []);
    assert.equal((await h.store.read()).previousPool, undefined);
  });

  it('refuses an unhealthy target unless forced', async () => {
    const h = await harness();
    h.pools.healthy.green = false;
    const r = await h.ops.switchPool('green', { force: false, by: alice });
    assert.equal(r.status, 'refused');
    assert.match(r.status === 'refused' ? r.reason : '', /green is unhealthy \(HTTP 503\).*--force/);
    assert.equal(h.nginx.active, 'blue');
    // nginx keeps serving the backup while the forced target is down; the switch still counts.
    h.nginx.serves = () => 'blue';
    const forced = await h.ops.switchPool('green', { force: true, by: alice });
    assert.equal(forced.status, 'ok', JSON.stringify(forced));
    assert.match(forced.status === 'ok' ? forced.message : '', /forced while green is unhealthy/);
    assert.equal(h.nginx.active, 'green');
    assert.deepEqual((await h.store.readAudit()).map((a) => a.result), ['refused', 'ok']);
  });

  it('asks a pool that did not answer once more before refusing', async () => {
    const h = await harness();
    let calls = 0;
    h.pools.health = async () => (++calls === 1 ? poolProbe(false, 'connected, no answer within 100 ms', { outcome: 'slow' }) : poolProbe(true, 'HTTP 200'));
    assert.equal((await h.ops.switchPool('green', { force: false, by: alice })).status, 'ok');
    assert.equal(calls, 2);
  });

  it('restores the old flags when nginx does not serve the target', async () => {
    const h = await harness();
    h.nginx.serves = () => 'blue';
    const r = await h.ops.switchPool('green', { force: false, by: alice });
    assert.equal(r.status, 'failed');
    assert.match(r.status === 'failed' ? r.message : '', /went to blue without trying green.*; traffic stays on blue, nothing changed/);
    assert.match(r.status === 'failed' ? (r.cause ?? '') : '', /NGINX_STATE_DIR/);
    assert.equal(h.nginx.active, 'blue');
    assert.deepEqual(h.nginx.history, ['green', 'blue']);
    assert.equal((await h.store.read()).lastSwitch, undefined);
  });

  it('a release nginx benched under load before any check reached it: refused, and the hint points at the release, not the flags', async () => {
    const h = await harness();
    h.nginx.serves = () => 'blue';
    h.nginx.benchedTarget = true;
    const r = await h.ops.switchPool('green', { force: false, by: alice });
    assert.equal(r.status, 'failed');
    assert.equal(
      r.status === 'failed' ? r.message : '',
      'nginx did not serve green steadily while being checked: 10 of 10 went to blue because nginx had benched green (it failed real requests); traffic stays on blue, nothing changed',
    );
    assert.match(r.status === 'failed' ? (r.cause ?? '') : '', /look at green's logs: it passes \/healthz but fails requests/);
    assert.equal(h.nginx.active, 'blue');
  });

  it('a release that passes /healthz and fails requests: the failed switch says what nginx saw', async () => {
    const h = await harness();
    h.nginx.serves = () => 'blue';
    h.nginx.failedWith = '500';
    const r = await h.ops.switchPool('green', { force: false, by: alice });
    assert.equal(r.status, 'failed');
    assert.equal(r.status === 'failed' ? r.message : '', 'nginx did not serve green steadily while being checked: green failed 4 of 11 checks with 500 (blue answered them); traffic stays on blue, nothing changed');
    assert.match(r.status === 'failed' ? (r.cause ?? '') : '', /passes \/healthz but fails requests/);
  });

  it('serializes concurrent switches: final flags and recorded state agree', async () => {
    const h = await harness();
    const targets = ['green', 'blue', 'green', 'green', 'blue'] as const;
    const results = await Promise.all(targets.map((p, i) => h.ops.switchPool(p, { force: false, by: { kind: 'cli', id: `u${i}` } })));
    assert.ok(results.every((r) => r.status === 'ok'));
    const s = await h.store.read();
    assert.equal(h.nginx.active, 'blue');
    assert.equal(s.lastSwitch?.to, h.nginx.active);
    // In order: blue->green, green->blue, blue->green, no-op, green->blue.
    assert.deepEqual(h.nginx.history, ['green', 'blue', 'green', 'blue']);
    assert.equal((await h.store.readAudit()).length, 5);
  });
});

describe('rollback', () => {
  it('a "Roll back to blue" button that no longer leads to blue is refused, not run on stale intent', async () => {
    const h = await harness();
    await h.ops.switchPool('green', { force: false, by: alice });
    const stale = await h.ops.rollback(alice, { expect: 'green' });
    assert.equal(stale.status, 'refused');
    assert.match(stale.status === 'refused' ? stale.reason : '', /would go to blue, not green: the last switch was blue -> green by alice/);
    assert.equal(h.nginx.active, 'green');
    const r = await h.ops.rollback(alice, { expect: 'blue' });
    assert.equal(r.status, 'ok');
    assert.equal(h.nginx.active, 'blue');
    // Clicked twice (or from two messages): the second is refused, traffic stays.
    const again = await h.ops.rollback(alice, { expect: 'blue' });
    assert.equal(again.status, 'refused');
    assert.equal(h.nginx.active, 'blue');
  });

  it('returns to the pool active before the last switch, and back again', async () => {
    const h = await harness();
    assert.equal((await h.ops.rollback(alice)).status, 'refused');
    await h.ops.switchPool('green', { force: false, by: alice });
    const r = await h.ops.rollback(alice);
    assert.equal(r.status, 'ok', JSON.stringify(r));
    assert.match(r.status === 'ok' ? r.message : '', /Rolled back green -> blue/);
    assert.equal(h.nginx.active, 'blue');
    assert.equal((await h.store.read()).previousPool, 'green');
  });

  it('does not wait on the health gate', async () => {
    const h = await harness();
    await h.ops.switchPool('green', { force: false, by: alice });
    h.pools.healthy.blue = false;
    h.nginx.serves = () => 'green';
    const r = await h.ops.rollback(alice);
    assert.equal(r.status, 'ok', JSON.stringify(r));
    assert.equal(h.nginx.active, 'blue');
  });
});

describe('chaos', () => {
  it('refuses chaos on the active pool while the backup is unhealthy, unless forced', async () => {
    const h = await harness();
    h.pools.healthy.green = false;
    const r = await h.ops.startChaos('blue', 'timeout', { force: false, by: alice });
    assert.equal(r.status, 'refused');
    assert.match(r.status === 'refused' ? r.reason : '', /backup green is unhealthy.*outage/);
    assert.equal(h.pools.chaosMode.blue, null);
    assert.equal((await h.ops.startChaos('blue', 'timeout', { force: true, by: alice })).status, 'ok');
    assert.equal(h.pools.chaosMode.blue, 'timeout');
    assert.equal((await h.ops.stopChaos('blue', alice)).status, 'ok');
    assert.equal(h.pools.chaosMode.blue, null);
  });

  it('allows chaos on the idle pool', async () => {
    const h = await harness();
    assert.equal((await h.ops.startChaos('green', 'error', { force: false, by: alice })).status, 'ok');
    assert.equal(h.pools.chaosMode.green, 'error');
  });
});

describe('maintenance', () => {
  it('persists, expires by itself and announces the end', async () => {
    let t = Date.parse('2026-01-01T00:00:00Z');
    const h = await harness({ now: () => t });
    const r = await h.ops.setMaintenance(true, { by: alice, durationMs: 30 * 60_000 });
    assert.equal(r.status, 'ok');
    const m = (await h.store.read()).maintenance;
    assert.deepEqual([m.on, m.until], [true, '2026-01-01T00:30:00.000Z']);
    assert.equal(await h.ops.expireMaintenance(), false);
    t += 31 * 60_000;
    assert.equal(await h.ops.expireMaintenance(), true);
    assert.equal((await h.store.read()).maintenance.on, false);
    assert.equal(h.alerts.length, 1);
    assert.equal(h.alerts[0]?.kind, 'maintenance_expired');
    assert.match(h.alerts[0]?.summary ?? '', /started by alice/);
    assert.equal(await h.ops.expireMaintenance(), false);
  });

  it('uses the default length and can be switched off', async () => {
    const t = Date.parse('2026-01-01T00:00:00Z');
    const h = await harness({ now: () => t });
    await h.ops.setMaintenance(true, { by: alice });
    assert.equal((await h.store.read()).maintenance.until, '2026-01-01T01:00:00.000Z');
    await h.ops.setMaintenance(false, { by: alice });
    assert.equal((await h.store.read()).maintenance.on, false);
  });
});

const green = (h: Harness) => h.engine.containers.find((c) => c.service === 'app_green')!;
describe('maintenance with a reason, the page, extend, off, show', () => {
  const T0 = Date.parse('2026-01-01T00:00:00Z');

  it('on --page with a reason: records who, why, since, until, sets the page flag, verified, audited', async () => {
    const t = T0;
    const h = await harness({ now: () => t });
    const r = await h.ops.setMaintenance(true, { by: alice, durationMs: 10 * 60_000, page: true, reason: 'db upgrade' });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    assert.match(r.status === 'ok' ? r.message : '', /^Maintenance on until 2026-01-01T00:10:00.000Z \(db upgrade\): non-critical alerts are held back; nginx serves the maintenance page \(4 ms\)$/);
    assert.equal(h.nginx.page, true);
    const m = (await h.store.read()).maintenance;
    assert.deepEqual(m, { on: true, since: '2026-01-01T00:00:00.000Z', until: '2026-01-01T00:10:00.000Z', by: alice, reason: 'db upgrade', page: true });
    const [entry] = await h.store.readAudit();
    assert.deepEqual([entry?.op, entry?.args, entry?.result], ['maintenance', { on: true, durationMs: 600_000, page: true, reason: 'db upgrade' }, 'ok']);
  });

  it('says so when nginx does not confirm the page, keeping the flag (nginx reads it when it is back)', async () => {
    const h = await harness();
    h.nginx.pageServed = () => false;
    const r = await h.ops.setMaintenance(true, { by: alice, page: true });
    assert.equal(r.status, 'ok');
    assert.match(r.status === 'ok' ? r.message : '', /flag is set, but nginx did not confirm it within 100 ms/);
    assert.equal(h.nginx.page, true);
  });

  it('does not leave a page up that the record does not know about', async () => {
    const h = await harness();
    h.store.update = () => Promise.reject(new BluegreenError('STATE_IO', 'cannot write state.json'));
    const r = await h.ops.setMaintenance(true, { by: alice, page: true });
    assert.equal(r.status, 'failed');
    assert.equal(h.nginx.page, false);
  });

  it('on again without page (typed, or the Maintenance 1h button) keeps the page up; page false takes it down', async () => {
    let t = T0;
    const h = await harness({ now: () => t });
    await h.ops.setMaintenance(true, { by: alice, durationMs: 60_000, page: true, reason: 'db upgrade' });
    t += 30_000;
    const r = await h.ops.setMaintenance(true, { by: alice, durationMs: 60_000 });
    assert.match(r.status === 'ok' ? r.message : '', /until 2026-01-01T00:01:30.000Z \(db upgrade\): non-critical alerts are held back; the maintenance page stays up$/);
    let m = (await h.store.read()).maintenance;
    assert.deepEqual([m.on, m.page, m.reason, m.since, m.until], [true, true, 'db upgrade', '2026-01-01T00:00:00.000Z', '2026-01-01T00:01:30.000Z']);
    assert.equal(h.nginx.page, true);
    const down = await h.ops.setMaintenance(true, { by: alice, page: false });
    assert.match(down.status === 'ok' ? down.message : '', /the maintenance page is down, the pools serve again/);
    m = (await h.store.read()).maintenance;
    assert.deepEqual([m.on, m.page, h.nginx.page], [true, false, false]);
    // After an off, a plain on is quiet mode only.
    await h.ops.setMaintenance(true, { by: alice, page: true });
    await h.ops.setMaintenance(false, { by: alice });
    await h.ops.setMaintenance(true, { by: alice });
    assert.deepEqual([(await h.store.read()).maintenance.page, h.nginx.page], [false, false]);
  });

  it('extend moves until from the current end; refused when maintenance is off', async () => {
    let t = T0;
    const h = await harness({ now: () => t });
    const refusedWhenOff = await h.ops.extendMaintenance(30 * 60_000, { by: alice });
    assert.equal(refusedWhenOff.status, 'refused');
    assert.match(refusedWhenOff.status === 'refused' ? refusedWhenOff.reason : '', /maintenance is off: there is nothing to extend/);
    await h.ops.setMaintenance(true, { by: alice, durationMs: 10 * 60_000, page: true });
    t += 5 * 60_000;
    const r = await h.ops.extendMaintenance(30 * 60_000, { by: alice });
    assert.equal(r.status, 'ok');
    assert.match(r.status === 'ok' ? r.message : '', /extended by 30 min: now until 2026-01-01T00:40:00.000Z; the maintenance page stays up/);
    const m = (await h.store.read()).maintenance;
    assert.deepEqual([m.until, m.page, m.by?.id], ['2026-01-01T00:40:00.000Z', true, 'alice']);
    const tooLong = await h.ops.extendMaintenance(7 * 24 * 3_600_000, { by: alice });
    assert.equal(tooLong.status, 'refused');
    const audit = await h.store.readAudit();
    assert.deepEqual(audit.map((a) => `${a.result}:${JSON.stringify(a.args)}`), [
      'refused:{"extendMs":1800000}',
      'ok:{"on":true,"durationMs":600000,"page":true}',
      'ok:{"extendMs":1800000}',
      'refused:{"extendMs":604800000}',
    ]);
  });

  it('off ends quiet mode and the page; off when already off changes nothing', async () => {
    const h = await harness();
    await h.ops.setMaintenance(true, { by: alice, page: true, reason: 'db upgrade' });
    const r = await h.ops.setMaintenance(false, { by: alice });
    assert.match(r.status === 'ok' ? r.message : '', /^Maintenance off: alerts are live again; the maintenance page is down, the pools serve again/);
    assert.equal(h.nginx.page, false);
    assert.deepEqual((await h.store.read()).maintenance, { on: false, since: undefined, until: undefined, by: alice, reason: undefined, page: false });
    const again = await h.ops.setMaintenance(false, { by: alice });
    assert.match(again.status === 'ok' ? again.message : '', /^Maintenance was already off; nothing changed$/);
  });

  it('expiry ends the page too and says so in the alert', async () => {
    let t = T0;
    const h = await harness({ now: () => t });
    await h.ops.setMaintenance(true, { by: alice, durationMs: 3000, page: true, reason: 'db upgrade' });
    t += 2000;
    assert.equal(await h.ops.expireMaintenance(), false);
    assert.equal(h.nginx.page, true);
    t += 1000;
    assert.equal(await h.ops.expireMaintenance(), true);
    assert.equal(h.nginx.page, false);
    const m = (await h.store.read()).maintenance;
    assert.deepEqual([m.on, m.page, m.by?.id], [false, false, 'maintenance-timer']);
    assert.match(h.alerts[0]?.summary ?? '', /started by alice \(db upgrade\) expired at 2026-01-01T00:00:03.000Z; alerts are live again and the maintenance page is down/);
  });

  it('expiry does not end a maintenance extended meanwhile', async () => {
    let t = T0;
    const h = await harness({ now: () => t });
    await h.ops.setMaintenance(true, { by: alice, durationMs: 1000, page: true });
    t += 1000;
    const read = h.store.read.bind(h.store);
    let reads = 0;
    // The extend lands between the timer's first look and its look under the lock.
    h.store.read = async () => {
      const seen = await read();
      if (++reads === 1) {
        await h.store.update((x) => {
          x.maintenance.until = new Date(t + 60_000).toISOString();
        });
      }
      return seen;
    };
    assert.equal(await h.ops.expireMaintenance(), false);
    assert.equal(h.nginx.page, true);
    assert.equal(h.alerts.length, 0);
  });

  it('show returns the record and the page flag, and says when they disagree', async () => {
    const h = await harness({ now: () => T0 });
    const off = await h.ops.showMaintenance();
    assert.equal(off.status === 'ok' ? off.message : '', 'Maintenance is off');
    await h.ops.setMaintenance(true, { by: alice, durationMs: 60_000, page: true, reason: 'db upgrade' });
    const on = await h.ops.showMaintenance();
    assert.equal(on.status, 'ok');
    assert.equal(on.status === 'ok' ? on.message : '', 'Maintenance on since 2026-01-01T00:00:00.000Z until 2026-01-01T00:01:00.000Z, by alice (db upgrade); maintenance page up');
    assert.deepEqual(on.status === 'ok' && on.data && [on.data.page, on.data.pageFlag, on.data.reason], [true, true, 'db upgrade']);
    h.nginx.page = false;
    const odd = await h.ops.showMaintenance();
    assert.match(odd.status === 'ok' ? odd.message : '', /flag is missing although the record says the page is up/);
    // Showing is not a change: nothing audited beyond the one "on".
    assert.equal((await h.store.readAudit()).length, 1);
  });

  it('reads a state file written before reason and page existed', async () => {
    const h = await harness();
    await writeFile(join(h.dir, 'state.json'), JSON.stringify({ maintenance: { on: true, since: 'a', until: '2999-01-01T00:00:00.000Z', by: alice } }));
    const m = (await h.store.read()).maintenance;
    assert.deepEqual(m, { on: true, since: 'a', until: '2999-01-01T00:00:00.000Z', by: alice, reason: undefined, page: false });
  });
});

describe('deploy', () => {
  it('refuses the active pool', async () => {
    const h = await harness();
    const r = await h.ops.deploy('blue', 'bluegreen-demo-app:local', { releaseId: 'v2', by: alice });
    assert.equal(r.status, 'refused');
    assert.ok(!h.engine.calls.some((c) => c.startsWith('startReplacement')));
  });

  it('replaces the idle pool with the new image and release, healthy before nginx is told; never switches', async () => {
    const h = await harness();
    h.engine.images.add('app:v2');
    const oldGreen = structuredClone(green(h));
    const r = await h.ops.deploy('green', 'app:v2', { releaseId: 'green-v2', by: alice });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    const fresh = green(h);
    assert.notEqual(fresh.id, oldGreen.id);
    assert.equal(fresh.name, oldGreen.name);
    assert.equal(fresh.image, 'app:v2');
    assert.equal(fresh.env.RELEASE_ID, 'green-v2');
    assert.deepEqual(h.nginx.resolved.green, [fresh.id], 'nginx resolves app_green to the new container only');
    assert.equal(h.nginx.active, 'blue', 'deploy does not switch');
    assert.match(r.status === 'ok' ? r.message : '', /Switch to it with: switch green/);
    const order = h.engine.calls.map((c) => c.split(' ')[0]);
    assert.deepEqual(order.slice(0, 2), ['pull', 'imageExists']);
    assert.ok(order.indexOf('startReplacement') < order.indexOf('waitHealthy'));
    assert.ok(order.indexOf('waitHealthy') < order.indexOf('stop'), 'the old container stops only after the new one is healthy');
    assert.deepEqual(h.engine.containers.map((c) => c.service).sort(), ['app_blue', 'app_green', 'nginx'], 'nothing left over');
    assert.equal((await h.store.read()).releases.green?.releaseId, 'green-v2');
  });

  it("runs the new image's own command and env, keeping only what compose set (env, labels, ports, aliases)", async () => {
    const h = await harness();
    h.engine.images.add('app:v2');
    h.engine.imageConfigs.set('app:v2', {
      Cmd: ['node', '/app/v2.mjs'],
      Env: ['PATH=/usr/bin', 'PORT=3000', 'GREETING=hello', 'APP_POOL=blue', 'RELEASE_ID=dev'],
      WorkingDir: '/srv',
      User: 'app',
      Labels: { 'org.example.release': 'v2' },
    });
    const r = await h.ops.deploy('green', 'app:v2', { releaseId: 'green-v2', by: alice });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    const c = green(h);
    assert.deepEqual([c.config.Cmd, c.config.WorkingDir, c.config.User], [['node', '/app/v2.mjs'], '/srv', 'app']);
    assert.deepEqual(c.env, { PATH: '/usr/bin', PORT: '3000', GREETING: 'hello', APP_POOL: 'green', RELEASE_ID: 'green-v2' });
    assert.deepEqual(c.config.Healthcheck, { Test: ['CMD', 'node', '-e', 'healthz'] }, "compose's healthcheck");
    assert.equal(c.labels['com.docker.compose.project'], 'proj');
    assert.equal(c.labels['com.docker.compose.service'], 'app_green');
    assert.equal(c.labels['org.example.release'], 'v2');
    assert.deepEqual(c.ports, ['8082']);
    assert.deepEqual(c.networks, { proj_default: ['app_green', 'proj_app_green_1'] });
  });

  it('keeps at least one running container behind app_green in nginx at every step', async () => {
    const h = await harness();
    h.engine.images.add('app:v2');
    const gaps: string[] = [];
    h.engine.afterChange = () => {
      const live = h.nginx.resolved.green.filter((id) => h.engine.answering('app_green').some((c) => c.id === id));
      if (live.length === 0) gaps.push(h.engine.calls.at(-1)!);
    };
    const r = await h.ops.deploy('green', 'app:v2', { releaseId: 'green-v2', by: alice });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    assert.deepEqual(gaps, []);
  });

  it('refuses to replace the idle pool while nginx sends it the traffic (the active pool benched), and touches nothing', async () => {
    const h = await harness();
    h.engine.images.add('app:v2');
    const before = structuredClone(green(h));
    // blue failed a moment ago: nginx still routes to blue_primary but has benched blue, so green answers.
    h.nginx.serves = () => 'green';
    h.nginx.benchedTarget = true;
    const r = await h.ops.deploy('green', 'app:v2', { releaseId: 'green-v2', by: alice });
    assert.equal(r.status, 'refused', JSON.stringify(r));
    assert.equal(
      r.status === 'refused' ? r.reason : '',
      'green is carrying traffic: nginx did not serve blue steadily for 15 s (10 of 10 went to green because nginx had benched blue (it failed real requests)); replacing green now would fail those requests. Nothing changed. Deploy again once blue serves (status shows it), or switch to green and deploy to blue',
    );
    assert.deepEqual(green(h), before);
    assert.deepEqual(h.engine.calls.filter((c) => /startReplacement|disconnect|stop/.test(c)), []);
    // Once blue serves again, the same deploy goes through.
    h.nginx.serves = undefined;
    h.nginx.benchedTarget = false;
    assert.equal((await h.ops.deploy('green', 'app:v2', { releaseId: 'green-v2', by: alice })).status, 'ok');
  });

  it('tells each deploy step as it happens', async () => {
    const h = await harness();
    h.engine.images.add('app:v2');
    const steps: string[] = [];
    const r = await h.ops.deploy('green', 'app:v2', { releaseId: 'green-v2', by: alice, progress: (s) => steps.push(s) });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    assert.deepEqual(steps.slice(0, 5), [
      'nginx config test passed',
      'pulling app:v2',
      'not pulled; using the local app:v2',
      'checking that nginx serves blue, so green carries no traffic',
      'nginx serves blue',
    ]);
    assert.match(steps[5]!, /^replacing \S+ with app:v2 \(release green-v2\); it keeps serving until the new one is healthy$/);
    assert.match(steps[6]!, /^starting app:v2 beside \S+ as \S+-next-\S+ \(no traffic yet\)$/);
    assert.match(steps[7]!, /started; waiting for it to be healthy \(up to \d+ s\)$/);
    assert.ok(steps.some((s) => /stopping \S+ to free its name and ports/.test(s)), steps.join('\n'));
  });

  // Every step that can fail, the way it fails: the old green container must serve exactly as before.
  const failures: [string, (h: Harness) => void][] = [
    ['the new container cannot start', (h) => h.engine.fail.set('startReplacement', new BluegreenError('INTERNAL', 'create failed: no space left'))],
    ['the new container never becomes healthy', (h) => h.engine.unhealthyImages.add('app:v2')],
    ['the alias cannot be given', (h) => h.engine.fail.set('connect', new BluegreenError('DOCKER_TIMEOUT', 'connect took too long'))],
    ['the first nginx reload fails', (h) => h.nginx.failReloads.add(1)],
    ['the old container cannot be detached', (h) => h.engine.fail.set('disconnect', new BluegreenError('INTERNAL', 'disconnect failed'))],
    ['the second nginx reload fails', (h) => h.nginx.failReloads.add(2)],
    ['the old container cannot be stopped', (h) => h.engine.fail.set('stop', new BluegreenError('DOCKER_TIMEOUT', 'stop took too long'))],
    ['the final container cannot start', (h) => h.engine.fail.set('startReplacement proj_app_green_1 ', new BluegreenError('INTERNAL', 'port is already allocated'))],
    ['the third nginx reload fails', (h) => h.nginx.failReloads.add(3)],
    ['the last nginx reload fails', (h) => h.nginx.failReloads.add(4)],
  ];
  for (const [what, breakIt] of failures) {
    it(`when ${what}, the old container keeps serving as before and the new ones are removed`, async () => {
      const h = await harness();
      h.engine.images.add('app:v2');
      const old = structuredClone(green(h));
      const gaps: string[] = [];
      h.engine.afterChange = () => {
        const live = h.nginx.resolved.green.filter((id) => h.engine.answering('app_green').some((c) => c.id === id));
        if (live.length === 0) gaps.push(h.engine.calls.at(-1)!);
      };
      breakIt(h);
      const r = await h.ops.deploy('green', 'app:v2', { releaseId: 'green-v2', by: alice });
      assert.equal(r.status, 'failed', JSON.stringify(r));
      assert.match(r.status === 'failed' ? r.message : '', /^deploy of app:v2 to green failed at "[^"]+": .+; the old release keeps serving: proj_app_green_1 \(release app_green-v1\), unchanged/);
      const now = green(h);
      assert.deepEqual([now.id, now.name, now.state, now.image, now.ports, now.networks], [old.id, old.name, 'running', old.image, old.ports, old.networks]);
      assert.deepEqual(h.nginx.resolved.green, [old.id], 'nginx resolves app_green to the old container');
      assert.deepEqual(h.engine.containers.map((c) => c.name).sort(), ['proj_app_blue_1', 'proj_app_green_1', 'proj_nginx_1']);
      assert.deepEqual(gaps, [], 'nginx always had a running app_green');
      assert.equal((await h.store.read()).releases.green, undefined);
    });
  }

  it('touches nothing when nginx already rejects its config', async () => {
    const h = await harness();
    h.engine.images.add('app:v2');
    h.nginx.configError = new BluegreenError('NGINX_CONFIG_INVALID', 'nginx -t failed: [emerg] unknown directive "garbage"');
    const r = await h.ops.deploy('green', 'app:v2', { by: alice });
    assert.equal(r.status, 'failed');
    assert.match(r.status === 'failed' ? r.message : '', /unknown directive "garbage"/);
    assert.ok(!h.engine.calls.some((c) => c.startsWith('startReplacement')));
  });

  it('fails clearly when the image is neither pullable nor local', async () => {
    const h = await harness();
    const r = await h.ops.deploy('green', 'nope:1', { by: alice });
    assert.equal(r.status, 'failed');
    assert.match(r.status === 'failed' ? r.message : '', /nope:1 could not be pulled and is not present locally/);
  });
});

describe('without Docker', () => {
  it('status still answers, naming the Docker problem; operations that need Docker fail clearly', async () => {
    const h = await harness();
    h.engine.down = new BluegreenError('DOCKER_UNAVAILABLE', 'Docker is not reachable at /var/run/docker.sock (ENOENT)', {
      hint: 'mount the Docker socket into the bot',
    });
    const s = await h.ops.status();
    assert.equal(s.status, 'ok');
    const report = s.status === 'ok' ? s.data : undefined;
    assert.equal(report?.docker.ok, false);
    assert.match(report?.docker.ok === false ? report.docker.error : '', /not reachable.*mount the Docker socket/);
    assert.equal(report?.active, 'blue');
    assert.equal(report?.pools[0]?.runs, undefined, 'nothing to describe without Docker');

    h.engine.images.add('app:v2');
    const d = await h.ops.deploy('green', 'app:v2', { by: alice });
    assert.equal(d.status, 'failed');
    assert.match(d.status === 'failed' ? `${d.message} ${d.cause}` : '', /deploy failed: Docker is not reachable.*DOCKER_UNAVAILABLE/);
    // A switch needs no Docker: flags and HTTP only.
    assert.equal((await h.ops.switchPool('green', { force: false, by: alice })).status, 'ok');
  });
});

describe('status', () => {
  it('reports per pool container, release, health, chaos, stats, and the recorded state', async () => {
    const h = await harness({ poolStats: (p) => ({ errorRate: p === 'blue' ? 0.5 : 0, p95Ms: 12, samples: 200, retried5m: p === 'blue' ? 3 : 0 }) });
    h.pools.chaosMode.green = 'error';
    h.pools.healthy.green = false;
    await h.ops.setMaintenance(true, { by: alice, durationMs: 60_000 });
    const s = await h.ops.status();
    assert.equal(s.status, 'ok');
    const r = s.status === 'ok' ? s.data! : assert.fail();
    assert.equal(r.active, 'blue');
    const [blue, green] = r.pools;
    assert.deepEqual([blue?.active, blue?.healthy, blue?.release, blue?.stats?.errorRate], [true, true, 'app_blue-v1', 0.5]);
    assert.deepEqual([green?.healthy, green?.chaos, green?.runs?.state, green?.runs?.unit], [false, 'error', 'running', 'container proj_app_green_1']);
    assert.ok(blue?.runs?.startedAt !== undefined && Date.parse(blue.runs.startedAt) <= Date.now() - 59_000);
    assert.equal(r.maintenance.on, true);
    assert.equal(r.lock, undefined);
    assert.deepEqual(r.docker, { ok: true, project: 'proj' });
  });
});
