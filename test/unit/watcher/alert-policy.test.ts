import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AlertEvent } from '../../../src/shared/alert.js';
import { AlertPolicy, type SignalContext } from '../../../src/watcher/alert-policy.js';
import type { Signal } from '../../../src/watcher/detectors.js';

function signal(key: string, status: 'firing' | 'resolved', severity: Signal['severity'] = 'warning'): Signal {
  const [kind, pool] = key.split(':');
  return {
    key,
    kind: kind as Signal['kind'],
    status,
    severity,
    pool: pool === 'blue' || pool === 'green' ? pool : undefined,
    title: `${key} ${status}`,
    summary: 's',
    observed: 5,
    threshold: 2,
    unit: '%',
    explainedBy: [],
  };
}

function setup(cooldownSec = 300) {
  let now = Date.parse('2026-11-22T21:00:00Z');
  const sent: AlertEvent[] = [];
  const policy = new AlertPolicy({ env: 'prod-eu', cooldownMs: cooldownSec * 1000, windowSize: 200, now: () => now }, (a) => sent.push(a));
  const ctx = (maintenance = false): SignalContext => ({
    maintenance,
    samples: 180,
    sampleLines: ['{"status":500}'],
    release: (p) => (p ? `${p}-r1` : undefined),
  });
  return {
    policy,
    sent,
    ctx,
    advance: (sec: number) => (now += sec * 1000),
    keys: () => sent.map((a) => `${a.status}:${a.key}`),
  };
}

describe('AlertPolicy', () => {
  it('sends one firing alert per incident with everything an operator needs', () => {
    const t = setup();
    t.policy.handle(signal('failover:blue', 'firing'), t.ctx());
    t.policy.handle(signal('failover:blue', 'firing'), t.ctx());
    assert.deepEqual(t.keys(), ['firing:failover:blue']);
    const a = t.sent[0]!;
    assert.equal(a.env, 'prod-eu');
    assert.equal(a.pool, 'blue');
    assert.equal(a.release, 'blue-r1');
    assert.deepEqual([a.windowSize, a.samples, a.observed, a.threshold, a.unit], [200, 180, 5, 2, '%']);
    assert.deepEqual(a.sampleLines, ['{"status":500}']);
    assert.equal(a.firstAt, a.at);
  });

  it('resolves with the same key and the incident start time', () => {
    const t = setup();
    t.policy.handle(signal('error_rate:all', 'firing'), t.ctx());
    t.advance(42);
    t.policy.handle(signal('error_rate:all', 'resolved'), t.ctx());
    assert.deepEqual(t.keys(), ['firing:error_rate:all', 'resolved:error_rate:all']);
    assert.equal(Date.parse(t.sent[1]!.at) - Date.parse(t.sent[1]!.firstAt), 42_000);
  });

  it('holds a re-firing within the cooldown back, and announces it when the cooldown ends if still open', () => {
    const t = setup(300);
    t.policy.handle(signal('error_rate:all', 'firing'), t.ctx());
    t.policy.handle(signal('error_rate:all', 'resolved'), t.ctx());
    t.advance(60);
    t.policy.handle(signal('error_rate:all', 'firing'), t.ctx()); // flapping
    t.policy.handle(signal('error_rate:all', 'resolved'), t.ctx());
    t.policy.handle(signal('error_rate:all', 'firing'), t.ctx());
    assert.deepEqual(t.keys(), ['firing:error_rate:all', 'resolved:error_rate:all']);
    assert.deepEqual(t.policy.suppressed.map((s) => s.reason), ['cooldown', 'cooldown']);
    t.advance(200);
    t.policy.tick(false);
    assert.equal(t.sent.length, 2, 'still inside the cooldown');
    t.advance(60);
    t.policy.tick(false);
    assert.deepEqual(t.keys(), ['firing:error_rate:all', 'resolved:error_rate:all', 'firing:error_rate:all']);
  });

  it('the cooldown is per key', () => {
    const t = setup(300);
    t.policy.handle(signal('error_rate:all', 'firing'), t.ctx());
    t.policy.handle(signal('latency:all', 'firing'), t.ctx());
    t.policy.handle(signal('failover:blue', 'firing'), t.ctx());
    assert.equal(t.sent.length, 3);
  });

  it('maintenance holds back non-critical alerts and records them; critical ones still go out', () => {
    const t = setup();
    t.policy.handle(signal('failover:blue', 'firing'), t.ctx(true));
    t.policy.handle(signal('all_down:all', 'firing', 'critical'), t.ctx(true));
    assert.deepEqual(t.keys(), ['firing:all_down:all']);
    assert.ok(t.sent[0]!.explainedBy.some((e) => e.startsWith('maintenance')));
    assert.deepEqual(t.policy.suppressed.map((s) => [s.key, s.reason]), [['failover:blue', 'maintenance']]);
    // A held-back incident that clears during maintenance never reaches anyone.
    t.policy.handle(signal('failover:blue', 'resolved'), t.ctx(true));
    t.policy.tick(false);
    assert.deepEqual(t.keys(), ['firing:all_down:all']);
  });

  it('announces an incident still open when maintenance ends', () => {
    const t = setup();
    t.policy.handle(signal('failover:green', 'firing'), t.ctx(true));
    t.policy.tick(true);
    assert.equal(t.sent.length, 0);
    t.policy.tick(false);
    assert.deepEqual(t.keys(), ['firing:failover:green']);
  });

  it('restores open incidents and cooldowns after a restart: no repeated alert', () => {
    const t = setup();
    t.policy.handle(signal('failover:blue', 'firing'), t.ctx());
    const state = JSON.parse(JSON.stringify(t.policy.state()));
    const t2 = setup();
    t2.policy.restore(state);
    t2.policy.handle(signal('failover:blue', 'firing'), t2.ctx());
    assert.equal(t2.sent.length, 0);
    t2.policy.handle(signal('failover:blue', 'resolved'), t2.ctx());
    assert.deepEqual(t2.keys(), ['resolved:failover:blue']);
  });
});

describe('alert policy: alerts deploy control raises (auto-demote, guard, notices)', () => {
  const op = (key: string, status: 'firing' | 'resolved', severity: AlertEvent['severity'] = 'warning', summary = 's'): AlertEvent => {
    const [kind, pool] = key.split(':');
    return {
      id: `${key}-${status}-${summary}`,
      key,
      kind: kind as AlertEvent['kind'],
      status,
      severity,
      pool: pool === 'blue' || pool === 'green' ? pool : undefined,
      release: undefined,
      env: 'prod-eu',
      title: `${key} ${status}`,
      summary,
      observed: undefined,
      threshold: undefined,
      unit: undefined,
      windowSize: 0,
      samples: 0,
      sampleLines: [],
      explainedBy: [],
      at: '2026-11-22T21:00:00.000Z',
      firstAt: '2026-11-22T21:00:00.000Z',
    };
  };

  it('open, updated, resolved: then the next one of the key is a new incident', () => {
    const t = setup();
    t.policy.raise(op('auto_failover:blue', 'firing', 'warning', 'first'), false);
    t.policy.raise(op('auto_failover:blue', 'firing', 'warning', 'still'), false);
    t.policy.raise(op('auto_failover:blue', 'resolved', 'info'), false);
    assert.deepEqual(t.keys(), ['firing:auto_failover:blue', 'firing:auto_failover:blue', 'resolved:auto_failover:blue']);
    assert.equal(t.sent[1]!.summary, 'still', 'an update of the open incident goes out');
    assert.deepEqual(t.policy.openKeys(), []);
    t.advance(3600);
    t.policy.raise(op('auto_failover:blue', 'firing'), false);
    assert.deepEqual(t.policy.openKeys(), ['auto_failover:blue']);
    assert.equal(t.sent.length, 4);
  });

  it('cooldown and maintenance hold them back like the watcher\'s; critical ones always go out', () => {
    const t = setup(300);
    t.policy.raise(op('auto_failover:blue', 'firing'), true);
    assert.deepEqual(t.keys(), [], 'held back by maintenance');
    assert.equal(t.policy.suppressed.at(-1)?.reason, 'maintenance');
    t.policy.raise(op('post_switch_guard:green', 'firing', 'critical'), true);
    assert.deepEqual(t.keys(), ['firing:post_switch_guard:green']);
    t.policy.tick(false);
    assert.deepEqual(t.keys(), ['firing:post_switch_guard:green', 'firing:auto_failover:blue'], 'announced once maintenance ends, still open');
    t.policy.raise(op('auto_failover:blue', 'resolved', 'info'), false);
    t.advance(60);
    t.policy.raise(op('auto_failover:blue', 'firing'), false);
    assert.equal(t.keys().length, 3, 'within the cooldown: held back');
    assert.equal(t.policy.suppressed.at(-1)?.reason, 'cooldown');
  });

  it('a resolved alert with no open incident is a notice that goes out as it is', () => {
    const t = setup();
    t.policy.raise(op('maintenance_expired:all', 'resolved', 'info'), false);
    assert.deepEqual(t.keys(), ['resolved:maintenance_expired:all']);
    assert.deepEqual(t.policy.openKeys(), []);
  });
});
