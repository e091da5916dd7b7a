import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderStatus, renderText } from '../../../src/commands/render-text.js';
import { ok, refused } from '../../../src/shared/op-result.js';
import { describeContainer } from '../../../src/deploy/compose/compose-engine.js';
import { describeSwarmPool } from '../../../src/deploy/swarm/swarm-engine.js';
import { poolStatus, ROLLED_BACK, statusReport, swarmGreen, swarmReport } from './swarm-fixtures.js';

const T = Date.parse('2026-01-01T01:00:00Z');

describe('renderStatus (CLI text)', () => {
  it('Compose mode: one line per pool with its container; a missing container says so under its line', () => {
    const r = statusReport([
      poolStatus({
        pool: 'blue',
        active: true,
        release: 'r-1',
        runs: describeContainer(
          { id: 'c1', name: 'proj_app_blue_1', project: 'proj', service: 'app_blue', state: 'running', health: 'healthy', image: 'demo-app:1', startedAt: '2026-01-01T00:58:00Z', env: {}, labels: {}, networks: {} },
          '',
        ),
        stats: { errorRate: 0.5, p95Ms: 42.4, samples: 200, retried5m: 3 },
      }),
      poolStatus({ pool: 'green', release: 'r-2', healthy: false, healthDetail: 'no answer within 100 ms', runs: describeContainer(undefined, 'no app_green container in compose project proj'), chaos: 'timeout' }),
    ]);
    assert.equal(
      renderStatus(r, T),
      [
        'env prod-eu-1 · active pool: blue',
        '* blue  healthy · release r-1 · running/healthy · demo-app:1 · up 2m0s · errors 0.50% · p95 42 ms · 3 retried requests in the last 5 min',
        '  green UNHEALTHY (no answer within 100 ms) · release r-2 · missing · CHAOS timeout',
        '    no app_green container in compose project proj',
        'maintenance: off',
        'last switch: none',
        'last failover: none',
        'lock: free',
      ].join('\n'),
    );
  });

  it('Swarm mode: running/desired and the image on the pool line; tasks per node, the update and failed tasks under it', () => {
    const text = renderStatus(swarmReport(), T);
    const lines = text.split('\n');
    const blue = lines.findIndex((l) => l.startsWith('* blue'));
    const green = lines.findIndex((l) => l.startsWith('  green'));
    assert.ok(lines[blue]?.includes(' · 3/3 running · bluegreen-demo-app:r2'), lines[blue]);
    assert.equal(lines[blue + 1], '    per node: vm (k3f2a1): 2, vm (9bd0c1): 1');
    assert.equal(lines[blue + 2], '    update completed: update completed');
    assert.ok(lines[green]?.includes(' · 1/2 running · bluegreen-demo-app:r1'), lines[green]);
    const underGreen = lines.slice(green + 1, green + 4);
    assert.deepEqual(underGreen, [
      '    per node: vm (k3f2a1): 1',
      `    update rollback_completed: ${ROLLED_BACK}`,
      '    task bluegreen_app_green.2 on vm (9bd0c1) failed: task: non-zero exit (1)',
    ]);
    assert.ok(!text.includes('container:'), 'no container to complain about in Swarm mode');
    assert.ok(!text.includes('bluegreen_app_green.1'), 'running tasks are counted per node, not listed');
  });

  it('Swarm mode: an update under way, no task anywhere, and a long list of failures cut short', () => {
    const failures = Array.from({ length: 8 }, (_, i) => ({ name: `bluegreen_app_green.${i + 1}`, node: '', state: 'rejected', error: 'No such image: app:9' }));
    const r = statusReport([
      poolStatus({ pool: 'green', runs: describeSwarmPool(swarmGreen({ running: 0, perNode: {}, update: { state: 'updating', message: undefined, startedAt: undefined, completedAt: undefined }, tasks: failures })) }),
    ]);
    const text = renderStatus(r, T);
    assert.ok(text.includes('0/2 running'), text);
    assert.ok(text.includes('    per node: none'), text);
    assert.ok(text.includes('    update updating\n'), text);
    // A task Swarm has not placed yet has no node to name.
    assert.ok(text.includes('    task bluegreen_app_green.1 rejected: No such image: app:9'), text);
    assert.equal(text.split('\n').filter((l) => l.startsWith('    task ')).length, 6, text);
    assert.ok(text.includes('    task … and 3 more not running'), text);
  });
});

describe('renderText for scale', () => {
  it("prints the operation's own message, which names the counts per node (nothing said twice)", () => {
    const message = 'Scaled blue from 2 to 3: 3 running (vm (k3f2a1): 2, vm (9bd0c1): 1)';
    const r = ok(message, { pool: 'blue' as const, previous: 2, desired: 3, running: 3, perNode: { 'vm (k3f2a1)': 2, 'vm (9bd0c1)': 1 } });
    assert.equal(renderText(r, 'scale'), message);
  });

  it('a refusal (Compose mode) reads like any other', () => {
    assert.equal(renderText(refused('scale needs Swarm mode: under Compose each pool is one container'), 'scale'), 'refused: scale needs Swarm mode: under Compose each pool is one container');
  });
});
