import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BluegreenError } from '../../../../src/errors.js';
import type { ClusterSnapshot } from '../../../../src/deploy/swarm/cluster.js';
import type { ProbeOutcome } from '../../../../src/deploy/pools/probe-http.js';
import { createSwarmSync, membersOf, type SwarmSyncOptions } from '../../../../src/deploy/swarm/swarm-sync.js';
import type { Pool } from '../../../../src/pool.js';
import { captureLogger, FakeNginx } from '../fakes.js';
import { clusterSnapshot, FakeSwarm, poolTask, swarmNode, MANAGER, WORKER } from './fake-swarm.js';

const DOCKER_GONE = new BluegreenError('DOCKER_UNAVAILABLE', 'Docker is not reachable at /var/run/docker.sock (ENOENT)');
const ALL = { blue: ['10.0.1.11:3000', '10.0.1.12:3000'], green: ['10.0.2.11:3000', '10.0.2.12:3000'] };
/** The worker's tasks (even slots) of the default snapshot. */
const ON_WORKER = ['10.0.1.12', '10.0.2.12'];

function setup(over: Partial<SwarmSyncOptions> = {}) {
  const fake = new FakeSwarm();
  const nginx = new FakeNginx();
  const given: Record<Pool, string[]>[] = [];
  const apply = nginx.applyMembers.bind(nginx);
  nginx.applyMembers = (members) => {
    given.push({ blue: [...members.blue], green: [...members.green] });
    return apply(members);
  };
  /** What each task answers its probe, by address; healthy when not said. */
  const answers = new Map<string, ProbeOutcome>();
  const probed: string[] = [];
  const { log, lines } = captureLogger();
  const seen: ClusterSnapshot[] = [];
  const sync = createSwarmSync({
    control: fake,
    nginx,
    appPort: 3000,
    intervalMs: 10,
    probeIntervalMs: 5,
    probe: async (address) => (probed.push(address), answers.get(address) ?? 'healthy'),
    log,
    onSnapshot: (s) => seen.push(s),
    ...over,
  });
  const errors = () => lines().filter((l) => l.level === 'error');
  return { fake, nginx, given, sync, lines, errors, seen, answers, probed };
}

describe('membersOf', () => {
  it("each pool's serving tasks as address:port, sorted, so equal sets compare equal", () => {
    const snap = clusterSnapshot({ blue: 0, green: 0 });
    snap.pools.blue.tasks = [poolTask('blue', 2, { address: '10.0.1.9' }), poolTask('blue', 1, { address: '10.0.1.20' }), poolTask('blue', 3, { state: 'starting' })];
    assert.deepEqual(membersOf(snap, 3000), { blue: ['10.0.1.20:3000', '10.0.1.9:3000'], green: [] });
  });
});

describe('swarm sync: nginx follows the tasks the bot can reach', () => {
  it('gives nginx the members on the first round, not again while nothing changed, again when a task moves', async () => {
    const t = setup();
    await t.sync.syncNow();
    assert.deepEqual(t.given, [ALL]);
    assert.deepEqual(t.sync.applied(), t.given[0]);
    await t.sync.syncNow();
    await t.sync.syncNow();
    assert.equal(t.given.length, 1);
    // Swarm marks the worker down: its tasks leave the lists at once; Swarm starts them again on the manager.
    t.fake.state.nodes = [swarmNode(MANAGER), swarmNode(WORKER, { state: 'down' })];
    await t.sync.syncNow();
    assert.deepEqual(t.given.at(-1), { blue: ['10.0.1.11:3000'], green: ['10.0.2.11:3000'] });
    t.fake.state.pools.blue.tasks.push(poolTask('blue', 2, { nodeId: MANAGER, address: '10.0.1.30' }));
    await t.sync.syncNow();
    assert.deepEqual(t.given.at(-1)?.blue, ['10.0.1.11:3000', '10.0.1.30:3000']);
    assert.equal(t.given.length, 3);
    assert.equal(t.seen.length, 5, 'onSnapshot hears every read');
    assert.equal(t.sync.latest()?.pools.blue.tasks.length, 3);
  });

  it("a vanished node's tasks leave after two probes without a connection, before Swarm marks the node down", async () => {
    const t = setup();
    await t.sync.syncNow();
    for (const a of ON_WORKER) t.answers.set(a, 'unreachable');
    await t.sync.syncNow();
    assert.equal(t.given.length, 1, 'one probe without a connection is not enough');
    await t.sync.syncNow();
    assert.deepEqual(t.given.at(-1), { blue: ['10.0.1.11:3000'], green: ['10.0.2.11:3000'] });
    const reloaded = t.lines().find((l) => l.msg === 'nginx members reloaded' && Array.isArray(l.unreachable) && l.unreachable.length > 0);
    assert.deepEqual(reloaded?.unreachable, ['10.0.1.12:3000', '10.0.2.12:3000']);
    // The node comes back: its tasks answer and join again.
    for (const a of ON_WORKER) t.answers.delete(a);
    await t.sync.syncNow();
    assert.deepEqual(t.given.at(-1), ALL);
  });

  it('a member that answers slowly or with an error stays (a busy host, a bad answer); a new task joins only once healthy', async () => {
    const t = setup();
    await t.sync.syncNow();
    t.answers.set('10.0.1.11', 'slow');
    t.answers.set('10.0.1.12', 'unhealthy');
    await t.sync.syncNow();
    await t.sync.syncNow();
    assert.equal(t.given.length, 1, JSON.stringify(t.given));
    t.fake.state.pools.green.tasks.push(poolTask('green', 3, { address: '10.0.2.13' }));
    t.answers.set('10.0.2.13', 'unhealthy');
    await t.sync.syncNow();
    assert.equal(t.given.length, 1, 'a task that has not passed its health check waits');
    t.answers.set('10.0.2.13', 'healthy');
    await t.sync.syncNow();
    assert.deepEqual(t.given.at(-1)?.green, ['10.0.2.11:3000', '10.0.2.12:3000', '10.0.2.13:3000']);
  });

  it('when no task of either pool can be reached, nginx keeps its members (the fault is likely the bot’s own view)', async () => {
    const t = setup();
    await t.sync.syncNow();
    for (const a of ['10.0.1.11', '10.0.1.12', '10.0.2.11', '10.0.2.12']) t.answers.set(a, 'unreachable');
    await t.sync.syncNow();
    await t.sync.syncNow();
    await t.sync.syncNow();
    assert.equal(t.given.length, 1);
    assert.equal(t.errors().length, 1, 'said once');
    assert.match(String(t.errors()[0]?.problem), /no task of either pool answers the bot/);
  });

  it('at start, nginx keeps the members it has when they still hold, and waits for the first probes when it has none', async () => {
    const kept = setup({ readApplied: async () => structuredClone(ALL) });
    await kept.sync.syncNow();
    assert.equal(kept.given.length, 0, 'the files already say it');
    const fresh = setup({ readApplied: async () => undefined, probe: () => new Promise(() => undefined) });
    const first = fresh.sync.syncNow();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(fresh.given.length, 0, 'no list before any task was probed');
    void first;
  });

  it('the same task answering again after a blip without a connection stays a member', async () => {
    const t = setup();
    await t.sync.syncNow();
    t.answers.set('10.0.1.11', 'unreachable');
    await t.sync.syncNow();
    t.answers.delete('10.0.1.11');
    await t.sync.syncNow();
    t.answers.set('10.0.1.11', 'unreachable');
    await t.sync.syncNow();
    assert.equal(t.given.length, 1, 'never two in a row');
  });

  it('tries again on the next round after nginx refused the members, though they did not change since', async () => {
    const t = setup();
    t.nginx.configError = new BluegreenError('NGINX_CONFIG_INVALID', 'nginx did not take the new member lists: [emerg] invalid port');
    await t.sync.syncNow();
    await t.sync.syncNow();
    assert.equal(t.given.length, 2);
    assert.equal(t.sync.applied(), undefined);
    assert.equal(t.errors().length, 1, 'the same problem twice is logged once');
    assert.match(String(t.errors()[0]?.problem), /giving nginx the new members failed: nginx did not take the new member lists/);
    assert.equal(t.seen.length, 2, 'the cluster watch still hears the facts');
    t.nginx.configError = undefined;
    await t.sync.syncNow();
    assert.equal(t.given.length, 3);
    assert.deepEqual(t.sync.applied(), t.given[2]);
    await t.sync.syncNow();
    assert.equal(t.given.length, 3);
  });

  it('survives a swarm it cannot read: logs the problem once, keeps the last facts, and logs it again when it comes back after a good round', async () => {
    const t = setup();
    await t.sync.syncNow();
    t.fake.down = DOCKER_GONE;
    await t.sync.syncNow();
    await t.sync.syncNow();
    assert.equal(t.errors().length, 1);
    assert.match(String(t.errors()[0]?.problem), /^reading the swarm failed: Docker is not reachable/);
    assert.equal(t.seen.length, 1, 'no snapshot, nothing to tell');
    assert.ok(t.sync.latest(), 'the last facts are kept');
    t.fake.down = undefined;
    await t.sync.syncNow();
    t.fake.down = DOCKER_GONE;
    await t.sync.syncNow();
    assert.equal(t.errors().length, 2, JSON.stringify(t.errors()));
  });

  it('a cluster watch that throws is logged and does not stop the loop', async () => {
    let calls = 0;
    const t = setup({
      onSnapshot: () => {
        calls++;
        throw new Error('watch broke');
      },
    });
    await t.sync.syncNow();
    await t.sync.syncNow();
    assert.equal(calls, 2);
    assert.ok(t.sync.applied());
    assert.equal(t.lines().filter((l) => l.msg === 'cluster watch failed on a snapshot').length, 2);
  });

  it('one read at a time: a call during a read shares it, and stop() waits for it', async () => {
    const t = setup();
    let release = () => undefined as void;
    t.fake.gate = new Promise<void>((r) => (release = r));
    const a = t.sync.syncNow();
    const b = t.sync.syncNow();
    assert.equal(a, b);
    let stopped = false;
    const stopping = t.sync.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(stopped, false, 'stop() returned while a read was running');
    release();
    await stopping;
    assert.equal(t.fake.snapshots, 1, 'two calls, one read');
    assert.equal(t.given.length, 1, 'the round finished before stop() resolved');
  });

  it('start(): reads every intervalMs and probes each task on its own schedule until stop()', async () => {
    const t = setup();
    t.sync.start();
    t.sync.start();
    const deadline = Date.now() + 3000;
    while ((t.fake.snapshots < 3 || t.probed.filter((a) => a === '10.0.1.11').length < 4) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.ok(t.fake.snapshots >= 3);
    assert.ok(t.probed.filter((a) => a === '10.0.1.11').length >= 4, 'each task is probed again and again');
    // A task that vanishes leaves without waiting for a read of the swarm.
    t.answers.set('10.0.1.12', 'unreachable');
    while (t.given.at(-1)?.blue.length !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(t.given.at(-1)?.blue, ['10.0.1.11:3000']);
    await t.sync.stop();
    const after = [t.fake.snapshots, t.probed.length];
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual([t.fake.snapshots, t.probed.length], after);
  });
});
