import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BluegreenError } from '../../../src/errors.js';
import type { ClusterSnapshot } from '../../../src/deploy/cluster.js';
import { createSwarmSync, membersOf } from '../../../src/deploy/swarm-sync.js';
import type { Pool } from '../../../src/pool.js';
import { captureLogger, FakeNginx } from './fakes.js';
import { clusterSnapshot, FakeSwarm, poolTask, swarmNode, MANAGER, WORKER } from './fake-swarm.js';

const DOCKER_GONE = new BluegreenError('DOCKER_UNAVAILABLE', 'Docker is not reachable at /var/run/docker.sock (ENOENT)');

function setup() {
  const fake = new FakeSwarm();
  const nginx = new FakeNginx();
  const given: Record<Pool, string[]>[] = [];
  const apply = nginx.applyMembers.bind(nginx);
  nginx.applyMembers = (members) => {
    given.push({ blue: [...members.blue], green: [...members.green] });
    return apply(members);
  };
  const { log, lines } = captureLogger();
  const seen: ClusterSnapshot[] = [];
  const sync = createSwarmSync({ control: fake, nginx, appPort: 3000, intervalMs: 10, log, onSnapshot: (s) => seen.push(s) });
  const errors = () => lines().filter((l) => l.level === 'error');
  return { fake, nginx, given, sync, lines, errors, seen };
}

describe('membersOf', () => {
  it("each pool's serving tasks as address:port, sorted, so equal sets compare equal", () => {
    const snap = clusterSnapshot({ blue: 0, green: 0 });
    snap.pools.blue.tasks = [poolTask('blue', 2, { address: '10.0.1.9' }), poolTask('blue', 1, { address: '10.0.1.20' }), poolTask('blue', 3, { state: 'starting' })];
    assert.deepEqual(membersOf(snap, 3000), { blue: ['10.0.1.20:3000', '10.0.1.9:3000'], green: [] });
  });
});

describe('swarm sync: nginx follows the serving tasks', () => {
  it('gives nginx the members on the first round, not again while nothing changed, again when a task moves', async () => {
    const t = setup();
    await t.sync.syncNow();
    assert.deepEqual(t.given, [{ blue: ['10.0.1.11:3000', '10.0.1.12:3000'], green: ['10.0.2.11:3000', '10.0.2.12:3000'] }]);
    assert.deepEqual(t.sync.applied(), t.given[0]);
    await t.sync.syncNow();
    await t.sync.syncNow();
    assert.equal(t.given.length, 1);
    // The worker goes down: its tasks leave the lists at once; Swarm starts them again on the manager.
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
    // Docker answers again (nothing moved meanwhile, so nginx is not asked), then goes away again:
    // that is news, not a repeat.
    t.fake.down = undefined;
    await t.sync.syncNow();
    t.fake.down = DOCKER_GONE;
    await t.sync.syncNow();
    assert.equal(t.errors().length, 2, JSON.stringify(t.errors()));
  });

  it('a cluster watch that throws is logged and does not stop the loop', async () => {
    const t = setup();
    const { log, lines } = captureLogger();
    let calls = 0;
    const sync = createSwarmSync({
      control: t.fake,
      nginx: t.nginx,
      appPort: 3000,
      intervalMs: 10,
      log,
      onSnapshot: () => {
        calls++;
        throw new Error('watch broke');
      },
    });
    await sync.syncNow();
    await sync.syncNow();
    assert.equal(calls, 2);
    assert.ok(sync.applied());
    assert.equal(lines().filter((l) => l.msg === 'cluster watch failed on a snapshot').length, 2);
  });

  it('one round at a time: a call during a round shares it, and stop() waits for it', async () => {
    const t = setup();
    let release = () => undefined as void;
    t.fake.gate = new Promise<void>((r) => (release = r));
    const a = t.sync.syncNow();
    const b = t.sync.syncNow();
    assert.equal(a, b);
    let stopped = false;
    const stopping = t.sync.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(stopped, false, 'stop() returned while a round was running');
    release();
    await stopping;
    assert.equal(t.fake.snapshots, 1, 'two calls, one read');
    assert.equal(t.given.length, 1, 'the round finished before stop() resolved');
  });

  it('start() rounds every intervalMs until stop()', async () => {
    const t = setup();
    t.sync.start();
    t.sync.start();
    const deadline = Date.now() + 3000;
    while (t.fake.snapshots < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.ok(t.fake.snapshots >= 3);
    await t.sync.stop();
    const after = t.fake.snapshots;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(t.fake.snapshots, after);
  });
});
