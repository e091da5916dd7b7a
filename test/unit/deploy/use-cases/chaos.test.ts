import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alice, harness, SETTINGS } from '../fakes.js';
import { FakeDeployEngine } from '../fake-deploy-engine.js';

// Chaos for any app: kill, stop and pause act on the pool's containers through the Docker API (the
// Compose engine over the fake Docker here), each fault is recorded with its end and undone by
// `chaos stop` or by the timer; the demo app's HTTP chaos stays one more kind.

const text = (r: { status: string; message?: string; reason?: string }) => (r.status === 'refused' ? r.reason : r.message) ?? '';

describe('chaos use cases', () => {
  it('pause: the pool’s container is paused, recorded with its end, shown by status; chaos stop unpauses it', async () => {
    const h = await harness();
    const green = h.engine.containers.find((c) => c.service === 'app_green')!;
    const r = await h.ops.startChaos('green', 'pause', { force: false, by: alice, durationMs: 30_000 });
    assert.equal(r.status, 'ok', text(r));
    assert.match(text(r), /Chaos \(pause\) started on green on 1 container\(s\): .* for 30 s; it ends by itself, or with: chaos stop green/);
    assert.equal(green.state, 'paused');
    const rec = (await h.store.read()).chaos.green;
    assert.deepEqual(rec && [rec.kind, rec.containers, Date.parse(rec.until) - Date.parse(rec.since) >= 29_000], ['pause', [green.id], true]);
    const st = await h.ops.status();
    assert.equal(st.status, 'ok');
    assert.match(String(st.status === 'ok' && st.data?.pools.find((p) => p.pool === 'green')?.chaos), /^pause until /);

    const again = await h.ops.startChaos('green', 'kill', { force: false, by: alice });
    assert.equal(again.status, 'refused');
    assert.match(text(again), /chaos pause already runs on green until .*: chaos stop green first/);

    const stop = await h.ops.stopChaos('green', alice);
    assert.equal(stop.status, 'ok', text(stop));
    assert.match(text(stop), /Chaos \(pause\) stopped on green \(proj_app_green_1 unpaused\)/);
    assert.equal(green.state, 'running');
    assert.equal((await h.store.read()).chaos.green, undefined);
  });

  it('kill and stop: undone by starting the container again; a container a deploy replaced meanwhile is skipped', async () => {
    const h = await harness();
    const green = h.engine.containers.find((c) => c.service === 'app_green')!;
    for (const kind of ['kill', 'stop'] as const) {
      assert.equal((await h.ops.startChaos('green', kind, { force: false, by: alice })).status, 'ok');
      assert.equal(green.state, 'exited', kind);
      const stop = await h.ops.stopChaos('green', alice);
      assert.match(text(stop), new RegExp(`Chaos \\(${kind}\\) stopped on green \\(proj_app_green_1 started\\)`));
      assert.equal(green.state, 'running');
    }
    assert.equal((await h.ops.startChaos('green', 'kill', { force: false, by: alice })).status, 'ok');
    h.engine.containers = h.engine.containers.filter((c) => c !== green);
    const stop = await h.ops.stopChaos('green', alice);
    assert.equal(stop.status, 'ok', text(stop));
    assert.equal(text(stop), 'Chaos (kill) stopped on green');
  });

  it('the timer ends a fault whose time is up (also one a bot before a restart started), and none before', async () => {
    let now = Date.parse('2026-12-03T10:00:00Z');
    const h = await harness({ now: () => now });
    const blue = h.engine.containers.find((c) => c.service === 'app_blue')!;
    // blue is active: its backup (green) is healthy, so chaos may start.
    assert.equal((await h.ops.startChaos('blue', 'pause', { force: false, by: alice, durationMs: 60_000 })).status, 'ok');
    now += 59_000;
    assert.deepEqual(await h.ops.expireChaos(), []);
    assert.equal(blue.state, 'paused');
    now += 1000;
    // A new process over the same state file (the bot restarted) ends it.
    const restarted = await harness({ now: () => now, store: h.store, containers: h.engine });
    assert.deepEqual(await restarted.ops.expireChaos(), ['blue']);
    assert.equal(blue.state, 'running');
    const audit = (await h.store.readAudit()).at(-1);
    assert.deepEqual([audit?.op, audit?.by.id, audit?.result], ['chaos_stop', 'chaos-timer', 'ok']);
    assert.match(audit?.message ?? '', /Chaos \(pause\) on blue ended: its time was up \(proj_app_blue_1 unpaused\)/);
  });

  it('refuses what it cannot do, with the reason: too long, no amount, the active pool without a healthy backup', async () => {
    const h = await harness();
    const long = await h.ops.startChaos('green', 'kill', { force: false, by: alice, durationMs: SETTINGS.chaosMaxMs + 1000 });
    assert.match(text(long), /chaos lasts at most 30 min \(CHAOS_MAX_DURATION\); asked for 30 min/);
    assert.match(text(await h.ops.startChaos('green', 'loss', { force: false, by: alice })), /chaos loss needs an amount \(percent\)/);
    h.pools.healthy.green = false;
    const outage = await h.ops.startChaos('blue', 'kill', { force: false, by: alice });
    assert.match(text(outage), /blue is active and the backup green is unhealthy .*Add --force/);
    assert.equal(h.engine.containers.find((c) => c.service === 'app_blue')!.state, 'running');
    assert.deepEqual((await h.store.read()).chaos, {});
  });

  it('loss: a helper joins each container\'s network namespace with only NET_ADMIN; chaos stop stops and removes it', async () => {
    const h = await harness({ settings: { ...SETTINGS, chaosNetImage: 'bluegreen-chaos-net:test' } });
    const green = h.engine.containers.find((c) => c.service === 'app_green')!;
    const r = await h.ops.startChaos('green', 'loss', { force: false, by: alice, amount: 30, durationMs: 45_000 });
    assert.equal(r.status, 'ok', text(r));
    assert.match(text(r), /Chaos \(loss 30%\) started on green on 1 container\(s\)/);
    assert.deepEqual(h.engine.helpers.map((x) => [x.image, x.args, x.joinNetworkOf, x.capAdd]), [['bluegreen-chaos-net:test', ['loss', '30', '45'], green.id, ['NET_ADMIN']]]);
    const rec = (await h.store.read()).chaos.green;
    assert.deepEqual(rec && [rec.kind, rec.amount, rec.helpers], ['loss', 30, ['helper-1']]);
    const stop = await h.ops.stopChaos('green', alice);
    assert.match(text(stop), /Chaos \(loss\) stopped on green \(1 helper\(s\) removed their loss\)/);
    assert.ok(!h.engine.containers.some((c) => c.id === 'helper-1'), 'the helper is gone');
    assert.equal(green.state, 'running');
  });

  it('delay where the kernel has no netem: refused in the helper\'s words, nothing recorded, the helper gone', async () => {
    const h = await harness({ settings: { ...SETTINGS, chaosNetImage: 'bluegreen-chaos-net:test' } });
    h.engine.helperSays = 'refused: this kernel cannot delay packets (tc netem: Error: Specified qdisc kind is unknown.); delay needs the sch_netem module on the host\n';
    const r = await h.ops.startChaos('green', 'delay', { force: false, by: alice, amount: 200 });
    assert.equal(r.status, 'refused');
    assert.match(text(r), /chaos delay cannot run on green: this kernel cannot delay packets \(tc netem: Error: Specified qdisc kind is unknown\.\)/);
    assert.deepEqual((await h.store.read()).chaos, {});
    assert.ok(!h.engine.containers.some((c) => c.id === 'helper-1'));
  });

  it("Swarm: tasks on other nodes are named as out of reach; undo leaves a killed task to Swarm; none here is refused", async () => {
    const engine = new FakeDeployEngine();
    const h = await harness({ engineOf: () => engine });
    const blue = h.engine.containers.find((c) => c.service === 'app_green')!;
    blue.labels = { ...blue.labels, 'com.docker.swarm.task.id': 'task-1' };
    engine.faults.green = { ids: [blue.id], elsewhere: 1 };
    const r = await h.ops.startChaos('green', 'kill', { force: false, by: alice });
    assert.match(text(r), /1 task\(s\) on other nodes are not touched \(Docker faults reach this node only\)/);
    const stop = await h.ops.stopChaos('green', alice);
    assert.equal(text(stop), 'Chaos (kill) stopped on green', 'a Swarm task is not started by hand');
    assert.equal(blue.state, 'exited');
    engine.faults.green = { ids: [], elsewhere: 2 };
    const none = await h.ops.startChaos('green', 'pause', { force: false, by: alice });
    assert.match(text(none), /green's 2 running task\(s\) are all on other nodes: Docker faults reach only the containers on the bot's node/);
  });

  it('the demo app’s HTTP chaos is one more kind, recorded and undone the same way', async () => {
    const h = await harness();
    assert.equal((await h.ops.startChaos('green', 'timeout', { force: false, by: alice })).status, 'ok');
    assert.equal(h.pools.chaosMode.green, 'timeout');
    assert.equal((await h.store.read()).chaos.green?.kind, 'timeout');
    assert.equal((await h.ops.stopChaos('green', alice)).status, 'ok');
    assert.equal(h.pools.chaosMode.green, null);
  });
});
