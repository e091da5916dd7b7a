import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildAlertMessage, buttonsFor, EMPTY_INCIDENT, type AlertFacts } from '../../../../src/bot/blocks/alert.js';
import { checkBlockKitLimits } from '../../../../src/bot/blocks/check-limits.js';
import { renderSimple } from '../../../../src/bot/webhook-notifier.js';
import type { ClusterNode, ClusterSnapshot, PoolTask, SwarmUpdate } from '../../../../src/deploy/swarm/cluster.js';
import { createClusterWatch, type ClusterWatchOptions } from '../../../../src/deploy/swarm/cluster-watch.js';
import type { Pool } from '../../../../src/pool.js';
import { incidentKeyParts, type AlertEvent } from '../../../../src/shared/alert.js';
import { AlertPolicy } from '../../../../src/watcher/alert-policy.js';

// Two nodes that share a host name, as two engines on one machine do: only the id tells them apart.
const A = '9bd0c1aaaaaaaaaaaaaaaaaaa';
const B = 'k3f2a1bbbbbbbbbbbbbbbbbbb';
const T0 = Date.parse('2026-11-30T15:00:00.000Z');
const GRACE = 10_000;

function node(id: string, state = 'ready'): ClusterNode {
  return { id, hostname: 'vm', state, availability: 'active', role: id === A ? 'manager' : 'worker', addr: undefined };
}

let addr = 0;
function task(name: string, nodeId: string, over: Partial<PoolTask> = {}): PoolTask {
  addr += 1;
  const slot = Number(name.split('.').at(-1));
  return { id: `t${addr}`, name, slot, nodeId, state: 'running', desiredState: 'running', error: undefined, address: `10.0.1.${addr}`, image: 'demo:1', release: 'r1', since: new Date(T0).toISOString(), ...over };
}

interface Shape {
  nodes?: ClusterNode[];
  blue?: PoolTask[];
  green?: PoolTask[];
  desired?: Partial<Record<Pool, number>>;
  update?: Partial<Record<Pool, SwarmUpdate>>;
  image?: string;
}

/** Both pools two tasks each, one per node, unless told otherwise. */
function snap(s: Shape = {}): ClusterSnapshot {
  const pool = (p: Pool, tasks: PoolTask[] | undefined) => ({
    pool: p,
    service: `bluegreen_app_${p}`,
    desired: s.desired?.[p] ?? 2,
    image: s.image ?? 'demo:1',
    release: 'r1',
    tasks: tasks ?? [task(`bluegreen_app_${p}.1`, A), task(`bluegreen_app_${p}.2`, B)],
    update: s.update?.[p],
  });
  return { at: new Date(T0).toISOString(), stack: 'bluegreen', nodes: s.nodes ?? [node(A), node(B)], pools: { blue: pool('blue', s.blue), green: pool('green', s.green) } };
}

function setup(o: Partial<ClusterWatchOptions> = {}) {
  let t = T0;
  const alerts: AlertEvent[] = [];
  const watch = createClusterWatch({ envName: 'test', raise: (a) => void alerts.push(a), graceMs: GRACE, now: () => t, ...o });
  return {
    watch,
    alerts,
    of: (kind: AlertEvent['kind']) => alerts.filter((a) => a.kind === kind),
    /** Observe `s` `ms` after the previous look. */
    at(ms: number, s: ClusterSnapshot) {
      t += ms;
      watch.observe(s);
    },
  };
}

const bDown = (over: Shape = {}) => snap({ nodes: [node(A), node(B, 'down')], ...over });
const update = (state: string, over: Partial<SwarmUpdate> = {}): SwarmUpdate => ({ state, message: undefined, startedAt: '2026-11-30T14:59:00.000Z', completedAt: undefined, ...over });
const FAILED = 'update rolled back due to failure or early termination of task 8k2xq1';

describe('cluster watch: node down', () => {
  it('names the node (host name and id) and the pool tasks it ran, once, and resolves with how long it was down', () => {
    const w = setup();
    w.at(0, snap());
    assert.equal(w.alerts.length, 0, 'a healthy cluster raises nothing');
    w.at(1000, bDown());
    const [down] = w.of('node_down');
    assert.ok(down);
    assert.equal(down.status, 'firing');
    assert.equal(down.severity, 'warning', 'both pools still serve from the other node');
    assert.equal(down.key, `node_down:all:${B}`);
    assert.deepEqual(incidentKeyParts(down.key), { kind: 'node_down', pool: undefined });
    assert.equal(down.title, 'Node down: vm (k3f2a1)');
    assert.match(down.summary, /vm \(k3f2a1\) \(worker\) is down/);
    assert.match(down.summary, /It ran bluegreen_app_blue\.2, bluegreen_app_green\.2/);
    assert.doesNotMatch(down.summary, /9bd0c1/, 'the other node of the same host name is not blamed');

    const before = w.alerts.length;
    for (let i = 0; i < 5; i++) w.at(1000, bDown());
    assert.equal(w.alerts.length, before, 'identical snapshots raise nothing');

    w.at(1000, snap());
    const up = w.of('node_down').at(-1)!;
    assert.equal(up.status, 'resolved');
    assert.equal(up.key, down.key);
    assert.match(up.summary, /vm \(k3f2a1\) is ready again after 6 s/);
    assert.deepEqual(w.watch.open().filter((i) => i.kind === 'node_down'), []);
  });

  it('is critical when it took the last serving task of the active pool; a warning when only the idle pool is left empty', () => {
    const only = (p: Pool) => [task(`bluegreen_app_${p}.1`, B)];
    const shape = { desired: { blue: 1, green: 1 }, blue: only('blue'), green: only('green') };
    const active = setup({ activePool: () => 'blue' });
    active.at(0, snap(shape));
    active.at(1000, bDown(shape));
    assert.equal(active.of('node_down')[0]?.severity, 'critical');
    assert.match(active.of('node_down')[0]!.summary, /blue has no serving task left\. green has no serving task left\./);

    const idle = setup({ activePool: () => 'green' });
    idle.at(0, snap({ ...shape, green: [task('bluegreen_app_green.1', A)] }));
    idle.at(1000, bDown({ ...shape, green: [task('bluegreen_app_green.1', A)] }));
    assert.equal(idle.of('node_down')[0]?.severity, 'warning', 'green, the active pool, still serves');
  });

  it('a node down when the bot first looks is an incident too, with the tasks Swarm still lists there', () => {
    const w = setup();
    w.at(0, bDown());
    assert.equal(w.of('node_down').length, 1);
    assert.match(w.of('node_down')[0]!.summary, /It ran bluegreen_app_blue\.2, bluegreen_app_green\.2/);
  });

  it('resolves when the node is removed from the swarm, still naming it', () => {
    const w = setup();
    w.at(0, snap());
    w.at(1000, bDown());
    w.at(2000, snap({ nodes: [node(A)], blue: [task('bluegreen_app_blue.1', A), task('bluegreen_app_blue.2', A)], green: [task('bluegreen_app_green.1', A), task('bluegreen_app_green.2', A)] }));
    const gone = w.of('node_down').at(-1)!;
    assert.equal(gone.status, 'resolved');
    assert.match(gone.summary, /vm \(k3f2a1\) left the swarm \(removed\) after 2 s/);
  });
});

describe('cluster watch: pool under strength', () => {
  it('is quiet within the grace (a rolling update, a scale-up) and pages past it, with Swarm’s errors', () => {
    const w = setup();
    w.at(0, snap());
    const old = task('bluegreen_app_blue.3', B, { state: 'rejected', desiredState: 'shutdown', error: 'an old failure', address: undefined, since: new Date(T0 - 3_600_000).toISOString() });
    const failing = task('bluegreen_app_blue.2', B, { state: 'failed', desiredState: 'shutdown', error: 'task: non-zero exit (1)', address: undefined, since: new Date(T0 + 1500).toISOString() });
    const short = snap({ blue: [task('bluegreen_app_blue.1', A), failing, old] });
    w.at(1000, short);
    w.at(GRACE - 1, short);
    assert.equal(w.alerts.length, 0, 'within the grace: nothing');
    w.at(1, short);
    const [fired] = w.of('pool_under_strength');
    assert.ok(fired);
    assert.equal(fired.key, 'pool_under_strength:blue');
    assert.equal(fired.pool, 'blue');
    assert.equal(fired.severity, 'warning');
    assert.equal(fired.title, 'blue under strength: 1 of 2 tasks');
    assert.match(fired.summary, /blue \(bluegreen_app_blue\) runs 1 of 2 tasks, short for 10 s/);
    assert.match(fired.summary, /Not serving: bluegreen_app_blue\.2 \(was on vm \(k3f2a1\)\)/);
    assert.match(fired.summary, /Failing: bluegreen_app_blue\.2 on vm \(k3f2a1\): failed: task: non-zero exit \(1\)/);
    assert.doesNotMatch(fired.summary, /an old failure/, 'failures from before the pool fell short are history');

    for (let i = 0; i < 5; i++) w.at(1000, short);
    assert.equal(w.alerts.length, 1, 'no repeats');

    w.at(1000, snap({ blue: [task('bluegreen_app_blue.1', A), task('bluegreen_app_blue.2', B)] }));
    const back = w.of('pool_under_strength').at(-1)!;
    assert.equal(back.status, 'resolved');
    assert.equal(back.key, fired.key);
    assert.match(back.summary, /blue runs 2 of 2 tasks again: back to full strength 16 s \(16000 ms\) after it fell short/);
    assert.match(back.summary, /Runs on: vm \(9bd0c1\): bluegreen_app_blue\.1; vm \(k3f2a1\): bluegreen_app_blue\.2/);
  });

  it('a scale-up that is running within the grace raises nothing at all', () => {
    const w = setup();
    w.at(0, snap());
    const starting = task('bluegreen_app_blue.3', A, { state: 'starting', address: undefined });
    w.at(1000, snap({ desired: { blue: 3 }, blue: [task('bluegreen_app_blue.1', A), task('bluegreen_app_blue.2', B), starting] }));
    w.at(4000, snap({ desired: { blue: 3 }, blue: [task('bluegreen_app_blue.1', A), task('bluegreen_app_blue.2', B), task('bluegreen_app_blue.3', A)] }));
    w.at(GRACE, snap({ desired: { blue: 3 }, blue: [task('bluegreen_app_blue.1', A), task('bluegreen_app_blue.2', B), task('bluegreen_app_blue.3', A)] }));
    assert.deepEqual(w.alerts, []);
  });

  it('pages at once when a node that served the pool is lost, and tells where the tasks moved', () => {
    const w = setup();
    w.at(0, snap());
    const lostTask = task('bluegreen_app_blue.2', B);
    w.at(1000, bDown({ blue: [task('bluegreen_app_blue.1', A), lostTask] }));
    const fired = w.of('pool_under_strength').find((a) => a.pool === 'blue');
    assert.ok(fired, 'no grace after a lost node');
    assert.match(fired.summary, /runs 1 of 2 tasks/);
    assert.match(fired.summary, /Node vm \(k3f2a1\) is down\./);
    assert.match(fired.summary, /Not serving: bluegreen_app_blue\.2 \(was on vm \(k3f2a1\)\)/);

    // Swarm starts slot 2 again on the node that is left.
    const moved = bDown({ blue: [task('bluegreen_app_blue.1', A), task('bluegreen_app_blue.2', A)] });
    w.at(7000, moved);
    const back = w.alerts.find((a) => a.kind === 'pool_under_strength' && a.pool === 'blue' && a.status === 'resolved');
    assert.ok(back);
    assert.match(back.summary, /Moved: bluegreen_app_blue\.2 from vm \(k3f2a1\) to vm \(9bd0c1\)\./);
    assert.match(back.summary, /back to full strength 7 s \(7000 ms\)/);
    assert.match(back.summary, /Runs on: vm \(9bd0c1\): bluegreen_app_blue\.1, bluegreen_app_blue\.2\./);
    assert.equal(w.of('node_down').filter((a) => a.status === 'resolved').length, 0, 'the node itself is still down');
  });

  it('while still short, open() tells the moves so far', () => {
    const w = setup();
    w.at(0, snap({ desired: { blue: 3 }, blue: [task('bluegreen_app_blue.1', A), task('bluegreen_app_blue.2', B), task('bluegreen_app_blue.3', B)] }));
    w.at(1000, bDown({ desired: { blue: 3 }, blue: [task('bluegreen_app_blue.1', A), task('bluegreen_app_blue.2', A)] }));
    const inc = w.watch.open().find((i) => i.key === 'pool_under_strength:blue');
    assert.ok(inc);
    assert.match(inc.summary, /runs 2 of 3/);
    assert.match(inc.summary, /Moved: bluegreen_app_blue\.2 from vm \(k3f2a1\) to vm \(9bd0c1\)/);
    assert.match(inc.summary, /Not serving: bluegreen_app_blue\.3 \(was on vm \(k3f2a1\)\)/);
  });

  it('is critical for the active pool with no serving task, and raised again when that changes', () => {
    const w = setup({ activePool: () => 'blue' });
    w.at(0, snap());
    const none = snap({ blue: [task('bluegreen_app_blue.1', A, { state: 'failed', desiredState: 'shutdown', address: undefined, error: 'task: non-zero exit (137)' })] });
    w.at(1000, none);
    w.at(GRACE, none);
    assert.equal(w.of('pool_under_strength')[0]?.severity, 'critical');
    assert.match(w.of('pool_under_strength')[0]!.summary, /nginx can only send its traffic to the backup pool/);
    w.at(1000, snap({ blue: [task('bluegreen_app_blue.1', A)] }));
    assert.deepEqual(w.of('pool_under_strength').map((a) => [a.status, a.severity]), [['firing', 'critical'], ['firing', 'warning']], 'one task serves again: less severe, same incident');
    assert.equal(new Set(w.of('pool_under_strength').map((a) => a.key)).size, 1);
  });
});

describe('cluster watch: a pool on one node', () => {
  const both = (p: Pool) => [task(`bluegreen_app_${p}.1`, A), task(`bluegreen_app_${p}.2`, A)];

  it('pages when every serving task of a pool sat on one node past the grace while another could take one, and resolves when spread', () => {
    const w = setup({ oneNodeGraceMs: 60_000 });
    w.at(0, snap({ blue: both('blue') }));
    w.at(59_000, snap({ blue: both('blue') }));
    assert.equal(w.of('pool_on_one_node').length, 0, 'the bot spreads it well within the grace');
    w.at(2_000, snap({ blue: both('blue') }));
    const [fired] = w.of('pool_on_one_node');
    assert.equal(fired?.status, 'firing');
    assert.equal(fired?.severity, 'warning');
    assert.equal(fired?.title, 'blue runs on one node: vm (9bd0c1)');
    assert.match(fired?.summary ?? '', /All 2 serving tasks of blue \(bluegreen_app_blue\) run on vm \(9bd0c1\) for 1 min 1 s.*losing vm \(9bd0c1\) would leave blue with none/);
    w.at(1000, snap({ blue: both('blue') }));
    assert.equal(w.of('pool_on_one_node').length, 1, 'once');
    w.at(1000, snap());
    const resolved = w.of('pool_on_one_node')[1];
    assert.equal(resolved?.status, 'resolved');
    assert.equal(resolved?.summary, 'blue (bluegreen_app_blue) runs on: vm (9bd0c1): bluegreen_app_blue.1; vm (k3f2a1): bluegreen_app_blue.2.');
  });

  it('not while the other node is down: the node-down alert says it', () => {
    const w = setup({ oneNodeGraceMs: 1000 });
    w.at(0, bDown({ blue: both('blue'), green: both('green') }));
    w.at(5_000, bDown({ blue: both('blue'), green: both('green') }));
    assert.equal(w.of('pool_on_one_node').length, 0);
  });
});

describe('cluster watch: Swarm’s own rollback', () => {
  it('raises when Swarm rolls an update back, quoting its reason, and resolves when the rollback completed', () => {
    const w = setup();
    w.at(0, snap({ update: { blue: update('updating', { message: 'update in progress' }) }, image: 'demo:2' }));
    assert.equal(w.alerts.length, 0);
    w.at(1000, snap({ update: { blue: update('rollback_started', { message: FAILED }) } }));
    const [rb] = w.of('swarm_rollback');
    assert.ok(rb);
    assert.equal(rb.status, 'firing');
    assert.equal(rb.severity, 'warning');
    assert.equal(rb.pool, 'blue');
    assert.equal(rb.key, `swarm_rollback:blue:${Date.parse('2026-11-30T14:59:00.000Z')}`);
    assert.equal(rb.title, 'Swarm rolled back the update of blue');
    assert.match(rb.summary, /Swarm is rolling back the update of bluegreen_app_blue: update rolled back due to failure or early termination of task 8k2xq1\. blue goes back to demo:1/);

    w.at(1000, snap({ update: { blue: update('rollback_started', { message: FAILED }) } }));
    assert.equal(w.of('swarm_rollback').length, 1, 'the same state again: nothing');

    w.at(5000, snap({ update: { blue: update('rollback_completed', { message: 'rollback completed', completedAt: new Date(T0 + 7000).toISOString() }) } }));
    const done = w.of('swarm_rollback').at(-1)!;
    assert.equal(done.status, 'resolved');
    assert.equal(done.key, rb.key);
    assert.match(done.summary, /Swarm rolled the update back; blue runs demo:1 again\. Swarm had said: update rolled back due to failure/);
    w.at(1000, snap({ update: { blue: update('rollback_completed', { message: 'rollback completed' }) } }));
    assert.equal(w.of('swarm_rollback').length, 2, 'nothing more once it is over');
  });

  it('a rollback that gets stuck is raised again on the same incident; each update is its own incident', () => {
    const w = setup();
    w.at(0, snap({ update: { blue: update('updating') } }));
    w.at(1000, snap({ update: { blue: update('rollback_started', { message: FAILED }) } }));
    w.at(1000, snap({ update: { blue: update('rollback_paused', { message: 'rollback paused due to failure or early termination of task 9zz' }) } }));
    const [first, stuck] = w.of('swarm_rollback');
    assert.equal(stuck?.status, 'firing');
    assert.equal(stuck?.key, first?.key);
    assert.equal(stuck?.title, 'Swarm paused the rollback of blue');
    assert.match(stuck!.summary, /rollback paused due to failure/);

    // A new update (a new StartedAt) replaces the stuck one: that incident ends, the next is new.
    w.at(1000, snap({ update: { blue: update('updating', { startedAt: '2026-11-30T15:10:00.000Z', message: 'update in progress' }) } }));
    assert.equal(w.of('swarm_rollback').at(-1)?.status, 'resolved');
    assert.match(w.of('swarm_rollback').at(-1)!.summary, /A newer update of bluegreen_app_blue replaced it \(updating: update in progress\)/);
    w.at(1000, snap({ update: { blue: update('paused', { startedAt: '2026-11-30T15:10:00.000Z', message: 'update paused due to failure or early termination of task 7yy' }) } }));
    const paused = w.of('swarm_rollback').at(-1)!;
    assert.equal(paused.status, 'firing');
    assert.notEqual(paused.key, first?.key);
    assert.equal(paused.title, 'Swarm paused the update of blue');
    assert.match(paused.summary, /run a mix of the old and the new spec/);
    // Someone resumes it and it completes.
    w.at(1000, snap({ update: { blue: update('completed', { startedAt: '2026-11-30T15:10:00.000Z', message: 'update completed' }) } }));
    assert.equal(w.of('swarm_rollback').at(-1)?.status, 'resolved');
    assert.equal(w.of('swarm_rollback').at(-1)?.key, paused.key);
    assert.deepEqual(w.watch.open(), []);
  });

  it('does not page at start-up for an old rollback; one notice for a recent one; nothing for a manual one', () => {
    const old = setup();
    old.at(0, snap({ update: { blue: update('rollback_completed', { message: 'rollback completed', completedAt: '2026-11-29T10:00:00.000Z' }) } }));
    old.at(1000, snap({ update: { blue: update('rollback_completed', { message: 'rollback completed', completedAt: '2026-11-29T10:00:00.000Z' }) } }));
    assert.deepEqual(old.alerts, []);

    const recent = setup();
    const r = update('rollback_completed', { message: 'rollback completed', completedAt: new Date(T0 - 120_000).toISOString() });
    recent.at(0, snap({ update: { green: r } }));
    recent.at(1000, snap({ update: { green: r } }));
    assert.equal(recent.alerts.length, 1);
    assert.equal(recent.alerts[0]?.status, 'resolved', 'a notice: nothing to resolve later');
    assert.equal(recent.alerts[0]?.severity, 'info');
    assert.match(recent.alerts[0]!.summary, /green runs demo:1 again\. \(it happened while the bot was not looking\)/);

    const manual = setup();
    manual.at(0, snap({ update: { blue: update('completed') } }));
    manual.at(1000, snap({ update: { blue: update('rollback_started', { startedAt: '2026-11-30T15:00:01.000Z', message: 'manually requested rollback' }) } }));
    manual.at(1000, snap({ update: { blue: update('rollback_completed', { startedAt: '2026-11-30T15:00:01.000Z', message: 'rollback completed' }) } }));
    assert.deepEqual(manual.alerts, [], 'docker service rollback: a person did it on purpose');
  });

  it('a paused update when the bot first looks is raised (it still needs someone); a rollback seen only complete is a notice', () => {
    const w = setup();
    w.at(0, snap({ update: { blue: update('paused', { message: 'update paused due to failure or early termination of task 7yy' }) } }));
    assert.equal(w.of('swarm_rollback')[0]?.status, 'firing');

    const quick = setup();
    quick.at(0, snap({ update: { blue: update('updating') } }));
    quick.at(1000, snap({ update: { blue: update('rollback_completed', { message: 'rollback completed' }) } }));
    assert.deepEqual(quick.alerts.map((a) => [a.kind, a.status]), [['swarm_rollback', 'resolved']]);
  });
});

describe('cluster watch: restart', () => {
  it('takes over incidents still open without raising them again, and resolves those that ended meanwhile', () => {
    const w = setup();
    const rbKey = `swarm_rollback:blue:${Date.parse('2026-11-30T14:00:00.000Z')}`;
    w.watch.restore([`node_down:all:${B}`, `node_down:all:${A}`, 'pool_under_strength:green', rbKey, 'failover:blue', 'error_rate:all']);
    const greenOnA = [task('bluegreen_app_green.1', A), task('bluegreen_app_green.2', A)];
    w.at(0, bDown({ green: greenOnA, update: { blue: update('completed') } }));
    assert.equal(w.of('node_down').filter((a) => a.status === 'firing').length, 0, 'B is still down: announced before the restart');
    const resolved = w.alerts.filter((a) => a.status === 'resolved').map((a) => a.key).sort();
    assert.deepEqual(resolved, [`node_down:all:${A}`, 'pool_under_strength:green', rbKey].sort());
    assert.match(w.alerts.find((a) => a.key === `node_down:all:${A}`)!.summary, /ready again \(it started before the bot restarted\)/);
    assert.deepEqual(w.watch.open().map((i) => [i.key, i.restored]).filter(([k]) => k === `node_down:all:${B}`), [[`node_down:all:${B}`, true]]);
    // blue is short at the first look, with no earlier look to tell a lost node from a rolling
    // update: the grace applies.
    assert.equal(w.of('pool_under_strength').filter((a) => a.status === 'firing').length, 0);
    w.at(GRACE, bDown({ green: greenOnA }));
    assert.equal(w.of('pool_under_strength').filter((a) => a.status === 'firing').map((a) => a.pool).join(), 'blue');
    w.at(1000, snap());
    assert.match(w.of('node_down').at(-1)!.summary, /vm \(k3f2a1\) is ready again \(it started before the bot restarted\)/);
  });
});

describe('cluster watch: through the alert pipeline and the notifiers', () => {
  function allKinds(activePool: Pool = 'blue'): AlertEvent[] {
    const w = setup({ activePool: () => activePool });
    w.at(0, snap());
    w.at(1000, bDown({ blue: [task('bluegreen_app_blue.1', A)], update: { green: update('rollback_started', { message: FAILED }) } }));
    w.at(1000, snap({ update: { green: update('rollback_completed', { message: 'rollback completed' }) } }));
    return w.alerts;
  }

  it('one message per incident through the alert policy, and a resolution for each', () => {
    const sent: AlertEvent[] = [];
    const policy = new AlertPolicy({ env: 'test', cooldownMs: 60_000, windowSize: 200, now: () => T0 }, (a) => sent.push(a));
    let t = T0;
    const w = createClusterWatch({ envName: 'test', raise: (a) => policy.raise(a, false), graceMs: GRACE, now: () => t });
    w.observe(snap());
    for (let i = 0; i < 3; i++) {
      t += 1000;
      w.observe(bDown());
    }
    t += 1000;
    w.observe(snap());
    assert.deepEqual(
      sent.map((a) => [a.kind, a.status]),
      [
        ['node_down', 'firing'],
        ['pool_under_strength', 'firing'],
        ['pool_under_strength', 'firing'],
        ['node_down', 'resolved'],
        ['pool_under_strength', 'resolved'],
        ['pool_under_strength', 'resolved'],
      ],
    );
    assert.deepEqual(policy.openKeys(), []);
  });

  it('renders every cluster alert in Block Kit within Slack’s limits and for the webhook, with the buttons that help', () => {
    const alerts = allKinds();
    assert.deepEqual([...new Set(alerts.map((a) => a.kind))].sort(), ['node_down', 'pool_under_strength', 'swarm_rollback']);
    for (const a of alerts) {
      const m = buildAlertMessage(a, EMPTY_INCIDENT, { runbookUrl: 'https://example.com/runbook.md' });
      assert.deepEqual(checkBlockKitLimits(m), [], `${a.key} ${a.status}`);
      assert.ok(JSON.stringify(m).includes(`runbook.md#${a.kind.replace(/_/g, '-')}`), 'links its runbook section');
      assert.ok(JSON.stringify(renderSimple(a)).includes(a.title.replace(/"/g, '\\"')));
    }
    const facts = (active: Pool): AlertFacts => ({ chaos: () => false, health: () => ({ healthy: true, detail: 'HTTP 200' }), active: () => active });
    const firing = (kind: AlertEvent['kind']) => alerts.find((a) => a.kind === kind && a.status === 'firing')!;
    const labels = (a: AlertEvent, active: Pool) => buttonsFor(a, EMPTY_INCIDENT, facts(active)).map((b) => b.text.text);
    assert.deepEqual(labels(firing('node_down'), 'blue'), ['Acknowledge'], 'Swarm reschedules by itself');
    assert.deepEqual(labels(firing('pool_under_strength'), 'blue'), ['Switch to green', 'Acknowledge'], 'the active pool is short');
    assert.deepEqual(labels(firing('pool_under_strength'), 'green'), ['Acknowledge'], 'an idle pool short of tasks: switching changes nothing');
    assert.deepEqual(labels(firing('swarm_rollback'), 'blue'), ['Acknowledge']);
    for (const a of alerts.filter((x) => x.status === 'resolved')) assert.deepEqual(labels(a, 'blue'), [], `${a.key}: nothing to press once over`);
    const unhealthy: AlertFacts = { ...facts('blue'), health: (p) => (p === 'green' ? { healthy: false, detail: 'HTTP 503' } : { healthy: true, detail: 'HTTP 200' }) };
    assert.deepEqual(buttonsFor(firing('pool_under_strength'), EMPTY_INCIDENT, unhealthy).map((b) => b.text.text), ['Acknowledge'], 'no switch to an unhealthy pool');
  });
});
