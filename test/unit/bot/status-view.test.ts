import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildAuditMessage } from '../../../src/bot/blocks/audit.js';
import { checkBlockKitLimits } from '../../../src/bot/blocks/check-limits.js';
import type { Block } from '../../../src/bot/blocks/kit.js';
import { buildStatusMessage } from '../../../src/bot/blocks/status.js';
import { statusViewOf } from '../../../src/bot/status-view.js';
import { describeContainer } from '../../../src/deploy/compose/compose-engine.js';
import { describeSwarmPool } from '../../../src/deploy/swarm/swarm-engine.js';
import { poolStatus, ROLLED_BACK, statusReport, swarmGreen, swarmReport } from '../commands/swarm-fixtures.js';

// The status message in Swarm mode: deploy's report (PoolStatus.runs, as the Swarm engine describes a service) through statusViewOf into
// Block Kit. Compose mode's message is pinned by the golden files in blocks.test.ts.

type Section = Extract<Block, { type: 'section' }>;

/** The mrkdwn of the section that heads a pool, its fields, and the sections under it (up to the next pool or divider). */
function poolBlocks(blocks: Block[], pool: string): { head: string; fields: string[]; under: string[] } {
  const i = blocks.findIndex((b) => b.type === 'section' && b.text?.text.includes(`*${pool}*`));
  assert.ok(i >= 0, `no section for ${pool}`);
  const s = blocks[i] as Section;
  const under: string[] = [];
  for (const b of blocks.slice(i + 1)) {
    if (b.type !== 'section' || b.fields) break;
    under.push(b.text?.text ?? '');
  }
  return { head: s.text?.text ?? '', fields: (s.fields ?? []).map((f) => f.text), under };
}

describe('status message in Swarm mode', () => {
  it('maps each pool to running/desired replicas and the service image, and keeps its Swarm facts', () => {
    const view = statusViewOf(swarmReport());
    const [blue, green] = view.pools;
    assert.equal(blue?.state, '3/3 running');
    assert.equal(blue?.image, 'bluegreen-demo-app:r2');
    assert.equal(blue?.perNode, 'vm (k3f2a1): 2, vm (9bd0c1): 1');
    assert.equal(green?.state, '1/2 running');
    assert.equal(green?.updateTrouble, true);
  });

  it('shows replicas, tasks per node and the image per pool; a rolled-back update and a failed task under the pool', () => {
    const m = buildStatusMessage(statusViewOf(swarmReport()));
    const blue = poolBlocks(m.blocks, 'blue');
    assert.ok(blue.head.startsWith(':large_green_circle:'), blue.head);
    assert.ok(blue.fields.includes('*Replicas*\n3/3 running'), blue.fields.join(' | '));
    assert.ok(blue.fields.includes('*Tasks per node*\nvm (k3f2a1): 2, vm (9bd0c1): 1'), blue.fields.join(' | '));
    assert.ok(blue.fields.includes('*Image*\n`bluegreen-demo-app:r2`'));
    assert.ok(!blue.fields.some((f) => f.startsWith('*State*')), 'no container state in Swarm mode');
    assert.deepEqual(blue.under, ['*Update:* completed: update completed']);

    const green = poolBlocks(m.blocks, 'green');
    assert.ok(green.head.startsWith(':large_yellow_circle:'), `fewer tasks than wanted: ${green.head}`);
    assert.ok(green.fields.includes('*Replicas*\n1/2 running'));
    const under = green.under.join('\n');
    assert.ok(under.includes(`:warning: *Update:* rollback_completed: ${ROLLED_BACK}`), under);
    assert.ok(under.includes('• bluegreen_app_green.2 on vm (9bd0c1) failed: task: non-zero exit (1)'), under);
    assert.ok(!under.includes('bluegreen_app_green.1'), 'running tasks are not listed');
    assert.match(m.text, /green 1\/2 running\/healthy/);
    assert.deepEqual(checkBlockKitLimits(m), []);
  });

  it('a pool with no task running is black; a pool with nothing to report has no line under it', () => {
    const r = statusReport([
      poolStatus({ pool: 'blue', active: true, runs: describeSwarmPool(swarmGreen({ service: 'bluegreen_app_blue', running: 0, perNode: {}, update: undefined, tasks: [] })) }),
      poolStatus({ pool: 'green', runs: describeSwarmPool(swarmGreen({ running: 2, perNode: { 'vm (k3f2a1)': 2 }, update: undefined, tasks: [] })) }),
    ]);
    const m = buildStatusMessage(statusViewOf(r));
    const blue = poolBlocks(m.blocks, 'blue');
    assert.ok(blue.head.startsWith(':black_circle:'), blue.head);
    assert.ok(blue.fields.includes('*Tasks per node*\nnone'));
    assert.deepEqual(blue.under, [], 'green follows at once');
  });

  it('stays within Slack limits with long messages and many failed tasks, escaping what Swarm wrote', () => {
    const tasks = Array.from({ length: 40 }, (_, i) => ({ name: `bluegreen_app_green.${i}`, node: `<${'n'.repeat(300)}>`, state: 'failed', error: `<&> ${'e'.repeat(3000)}` }));
    const huge = swarmGreen({
      image: 'i'.repeat(5000),
      perNode: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`node-${i}-${'x'.repeat(40)}`, 1])),
      update: { state: 'rollback_paused', message: '<b>'.repeat(2000), startedAt: undefined, completedAt: undefined },
      tasks,
    });
    const worst = { release: 'r'.repeat(5000), healthy: false, healthDetail: 'h'.repeat(5000), chaos: 'timeout' as const, runs: describeSwarmPool(huge) };
    const who = { kind: 'cli' as const, id: 'w'.repeat(5000) };
    const r = statusReport([poolStatus({ pool: 'blue', active: true, ...worst }), poolStatus({ pool: 'green', ...worst })], {
      env: 'e'.repeat(5000),
      maintenance: { on: true, since: '2026-01-01T00:00:00Z', until: '2026-01-01T01:00:00Z', by: who, reason: 'm'.repeat(5000), page: true },
      lastSwitch: { kind: 'switch', from: 'green', to: 'blue', at: '2026-01-01T00:00:00Z', by: who },
      lock: { op: 'o'.repeat(5000), by: who, since: '2026-01-01T00:00:00Z', pid: 1 },
    });
    const m = buildStatusMessage(statusViewOf(r));
    assert.deepEqual(checkBlockKitLimits(m), []);
    const under = poolBlocks(m.blocks, 'green').under.join('\n');
    assert.ok(!under.includes('<b>') && !under.includes('<&>'), 'Swarm text is escaped for mrkdwn');
    assert.ok(under.includes('… and 35 more not running'), under.slice(-200));
  });

  it('Compose mode maps as before: the container state and Docker health, no tasks per node; a Docker it cannot read is named', () => {
    const c = { id: 'c1', name: 'proj_app_blue_1', project: 'proj', service: 'app_blue', state: 'running', health: 'healthy' as const, image: 'demo-app:1', startedAt: undefined, env: {}, labels: {}, networks: {} };
    const r = statusReport([
      poolStatus({ pool: 'blue', active: true, runs: describeContainer(c, '') }),
      poolStatus({ pool: 'green', runs: describeContainer(undefined, 'no app_green container in compose project proj') }),
    ]);
    const [blue, green] = statusViewOf(r).pools;
    assert.deepEqual([blue?.state, blue?.health, blue?.image, blue?.perNode, blue?.notRunning], ['running', 'healthy', 'demo-app:1', undefined, []]);
    assert.deepEqual([green?.state, green?.running, green?.notRunning], ['missing', 0, ['no app_green container in compose project proj']]);
    const m = buildStatusMessage(statusViewOf(r));
    assert.ok(poolBlocks(m.blocks, 'blue').fields.includes('*State*\nrunning'));
    assert.ok(poolBlocks(m.blocks, 'green').head.startsWith(':black_circle:'));
    const down = statusViewOf(statusReport([poolStatus({ pool: 'blue' }), poolStatus({ pool: 'green' })], { docker: { ok: false, error: 'Docker socket not found' } }));
    assert.equal(down.pools[0]?.state, 'unknown (Docker socket not found)');
  });
});

describe('audit line for scale', () => {
  it('reads as the command a person would type', () => {
    const m = buildAuditMessage({
      at: '2026-01-01T00:00:00.000Z',
      by: { kind: 'cli', id: 'root', name: 'root' },
      op: 'scale',
      args: { pool: 'green', replicas: 3, force: true },
      result: 'refused',
      message: 'scale needs Swarm mode',
      durationMs: 4,
    });
    assert.ok(m.text.includes('root scale green 3 --force -> refused'), m.text);
  });
});
