import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommand } from '../../../src/commands/parse-command.js';
import { isMutating } from '../../../src/commands/command.js';
import { renderText } from '../../../src/commands/render-text.js';
import { runCommand } from '../../../src/commands/run-command.js';
import type { Operations } from '../../../src/deploy/operations.js';
import { ok } from '../../../src/shared/op-result.js';
import { alice, harness } from '../deploy/fakes.js';

async function run(text: string, h: Awaited<ReturnType<typeof harness>>) {
  const p = parseCommand(text);
  if (!('ok' in p)) assert.fail(p.error);
  return runCommand(p.ok, { ops: h.ops, by: alice });
}

describe('runCommand', () => {
  it('maps each command to its operation', async () => {
    const h = await harness();
    const help = await run('help', h);
    assert.match(help.status === 'ok' ? help.message : '', /switch blue\|green \[--force\]/);
    assert.equal((await run('switch green', h)).status, 'ok');
    assert.equal(h.nginx.active, 'green');
    assert.equal((await run('rollback', h)).status, 'ok');
    assert.equal(h.nginx.active, 'blue');
    assert.equal((await run('chaos start green timeout', h)).status, 'ok');
    assert.equal(h.pools.chaosMode.green, 'timeout');
    assert.equal((await run('chaos stop green', h)).status, 'ok');
    assert.equal((await run('maintenance on for 10m', h)).status, 'ok');
    assert.equal((await h.store.read()).maintenance.on, true);
    assert.equal((await run('maintenance off', h)).status, 'ok');
    assert.equal((await h.store.read()).maintenance.on, false);
    assert.equal((await run('deploy blue app:2', h)).status, 'refused');
    const s = await run('status', h);
    assert.equal(s.status, 'ok');
    assert.equal((await run('drill', h)).status, 'failed');
    assert.deepEqual(
      (await h.store.readAudit()).map((a) => a.op),
      ['switch', 'rollback', 'chaos_start', 'chaos_stop', 'maintenance', 'maintenance', 'deploy'],
    );
  });

  it('maps maintenance on --page with a reason, extend, show and off; show is not a change', async () => {
    const t = Date.parse('2026-01-01T00:00:00Z');
    const h = await harness({ now: () => t });
    assert.equal((await run('maintenance extend 30m', h)).status, 'refused');
    assert.equal((await run('maintenance on --page for 10m "db upgrade"', h)).status, 'ok');
    assert.equal(h.nginx.page, true);
    assert.equal((await run('maintenance extend 30m', h)).status, 'ok');
    const show = await run('maintenance', h);
    assert.equal(show.status, 'ok');
    assert.equal(
      renderText(show, 'maintenance', t),
      [
        'maintenance: on (non-critical alerts held back)',
        '  by      alice',
        '  reason  db upgrade',
        '  since   2026-01-01T00:00:00.000Z (0s ago)',
        '  until   2026-01-01T00:40:00.000Z (in 40m0s)',
        '  page    up: nginx answers public requests with 503 and the maintenance page',
      ].join('\n'),
    );
    assert.equal(isMutating({ name: 'maintenance', show: true }), false);
    assert.equal((await run('maintenance off', h)).status, 'ok');
    assert.equal(h.nginx.page, false);
    assert.equal(renderText(await run('maintenance', h), 'maintenance', t), 'maintenance: off');
    const m = (await h.store.read()).maintenance;
    assert.deepEqual([m.on, m.page], [false, false]);
    assert.deepEqual(
      (await h.store.readAudit()).map((a) => `${a.op}:${a.result}`),
      ['maintenance:refused', 'maintenance:ok', 'maintenance:ok', 'maintenance:ok'],
    );
  });

  it('maps scale to ops.scale with its pool, replicas and --force, between a start and a result line', async () => {
    const h = await harness();
    const calls: unknown[][] = [];
    const scale: Operations['scale'] = async (pool, replicas, opts) => {
      calls.push([pool, replicas, opts.force, opts.by]);
      opts.progress?.(`Swarm asked for ${replicas} ${pool} tasks (was 2)`);
      return ok(`Scaled ${pool} to ${replicas}`, { pool, previous: 2, desired: replicas, running: replicas, perNode: { 'vm (k3f2a1)': replicas } });
    };
    const steps: string[] = [];
    const p = parseCommand('scale green 4 --force');
    if (!('ok' in p)) assert.fail(p.error);
    const r = await runCommand(p.ok, { ops: { ...h.ops, scale }, by: alice, progress: (s) => steps.push(s) });
    assert.equal(r.status, 'ok');
    assert.deepEqual(calls, [['green', 4, true, alice]]);
    assert.deepEqual(steps, ['scale: started', 'Swarm asked for 4 green tasks (was 2)', 'scale: ok']);
    assert.equal(renderText(r, 'scale'), 'Scaled green to 4');
  });

  it('scale under Compose is refused with a message saying it needs Swarm mode, and audited', async () => {
    const h = await harness();
    const steps: string[] = [];
    const p = parseCommand('scale blue 3');
    if (!('ok' in p)) assert.fail(p.error);
    const r = await runCommand(p.ok, { ops: h.ops, by: alice, progress: (s) => steps.push(s) });
    assert.equal(r.status, 'refused');
    assert.match(renderText(r, 'scale'), /^refused: scale needs Swarm mode/);
    assert.deepEqual(steps, ['scale: started', 'scale: refused']);
    const [entry] = await h.store.readAudit();
    assert.deepEqual([entry?.op, entry?.args, entry?.result], ['scale', { pool: 'blue', replicas: 3, force: false }, 'refused']);
    assert.equal(h.engine.calls.length, 0, 'nothing touched Docker');
  });
});
