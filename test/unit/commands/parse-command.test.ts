import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatCommand } from '../../../src/bot/format-command.js';
import { isMutating } from '../../../src/commands/command.js';
import { formatDuration, parseCommand, usageOf } from '../../../src/commands/parse-command.js';

function ok(text: string) {
  const r = parseCommand(text);
  if (!('ok' in r)) assert.fail(`expected ${JSON.stringify(text)} to parse, got error ${r.error}`);
  return r.ok;
}

function error(text: string) {
  const r = parseCommand(text);
  if ('ok' in r) assert.fail(`expected ${JSON.stringify(text)} to fail, got ${JSON.stringify(r.ok)}`);
  return r;
}

describe('parseCommand', () => {
  it('reads every form of the grammar', () => {
    assert.deepEqual(ok(''), { name: 'help' });
    assert.deepEqual(ok('help'), { name: 'help' });
    assert.deepEqual(ok('status'), { name: 'status' });
    assert.deepEqual(ok('switch green'), { name: 'switch', pool: 'green', force: false });
    assert.deepEqual(ok('switch blue --force'), { name: 'switch', pool: 'blue', force: true });
    assert.deepEqual(ok('rollback'), { name: 'rollback' });
    assert.deepEqual(ok('maintenance on'), { name: 'maintenance', on: true, durationMs: undefined });
    assert.deepEqual(ok('maintenance on for 30m'), { name: 'maintenance', on: true, durationMs: 30 * 60_000 });
    assert.deepEqual(ok('maintenance on 1h30m'), { name: 'maintenance', on: true, durationMs: 90 * 60_000 });
    assert.deepEqual(ok('maintenance off'), { name: 'maintenance', on: false });
    assert.deepEqual(ok('chaos start blue'), { name: 'chaos', action: 'start', pool: 'blue', mode: 'error', force: false });
    assert.deepEqual(ok('chaos start green timeout --force'), {
      name: 'chaos',
      action: 'start',
      pool: 'green',
      mode: 'timeout',
      force: true,
    });
    assert.deepEqual(ok('chaos stop green'), { name: 'chaos', action: 'stop', pool: 'green' });
    // Chaos for any app: Docker faults, network faults with their amount, and a length.
    assert.deepEqual(ok('chaos start blue pause for 30s'), { name: 'chaos', action: 'start', pool: 'blue', mode: 'pause', durationMs: 30_000, force: false });
    assert.deepEqual(ok('chaos start green loss 30% for 2m'), { name: 'chaos', action: 'start', pool: 'green', mode: 'loss', amount: 30, durationMs: 120_000, force: false });
    assert.deepEqual(ok('chaos start green delay 200ms'), { name: 'chaos', action: 'start', pool: 'green', mode: 'delay', amount: 200, force: false });
    assert.deepEqual(ok('chaos start blue for 1m'), { name: 'chaos', action: 'start', pool: 'blue', mode: 'error', durationMs: 60_000, force: false });
    assert.deepEqual(ok('deploy green registry.local:5000/app:1.2.3 r-42'), {
      name: 'deploy',
      pool: 'green',
      image: 'registry.local:5000/app:1.2.3',
      releaseId: 'r-42',
    });
    assert.deepEqual(ok('deploy blue app:2'), { name: 'deploy', pool: 'blue', image: 'app:2', releaseId: undefined });
    assert.deepEqual(ok('drill'), { name: 'drill' });
  });

  it('is forgiving about case, spacing, flag position and Slack punctuation', () => {
    assert.deepEqual(ok('  SWITCH   Green  '), { name: 'switch', pool: 'green', force: false });
    assert.deepEqual(ok('switch --force green'), { name: 'switch', pool: 'green', force: true });
    assert.deepEqual(ok('switch green \u2014force'), { name: 'switch', pool: 'green', force: true });
    assert.deepEqual(ok('switch\u00a0green'), { name: 'switch', pool: 'green', force: false });
    // Image names keep their case: a tag such as 1.0-RC1 is case-sensitive.
    assert.equal((ok('deploy green app:1.0-RC1') as { image: string }).image, 'app:1.0-RC1');
  });

  it('names the exact problem and gives the usage of that subcommand', () => {
    const e1 = error('switch purple');
    assert.match(e1.error, /switch: expected a pool \(blue or green\), got "purple"/);
    assert.equal(e1.usage, usageOf('switch'));

    assert.match(error('switch').error, /missing pool/);
    assert.match(error('switch green now').error, /unexpected "now"/);
    assert.match(error('chaos start blue slow').error, /expected a chaos mode \(error, timeout, kill, stop, pause, delay, loss\), got "slow"/);
    assert.match(error('chaos pause blue').error, /expected start or stop, got "pause"/);
    assert.match(error('chaos start blue loss').error, /chaos loss needs an amount from 1 to 100 % \(e\.g\. chaos start blue loss 30\), got nothing/);
    assert.match(error('chaos start blue delay 0').error, /chaos delay needs an amount from 1 to 60000 ms/);
    assert.match(error('chaos start blue kill for').error, /missing duration after "for"/);
    assert.match(error('chaos start blue kill for 10ms').error, /expected a duration such as 30s or 5m, got "10ms"/);
    assert.match(error('maintenance on for').error, /missing duration/);
    assert.match(error('maintenance on for soon').error, /expected a duration such as 30m/);
    assert.match(error('maintenance on for 30d').error, /at most 7d/);
    assert.match(error('maintenance maybe').error, /expected on, off or extend, got "maybe"/);
    assert.match(error('deploy green').error, /missing image/);
    assert.match(error('deploy green "app;rm"').error, /expected an image/);
    assert.match(error('deploy green app:1 rel$(x)').error, /expected a release id/);
    assert.match(error('status --force').error, /--force does not apply to status/);
    assert.match(error('switch green --now').error, /unknown option "--now"/);
  });

  it('reads maintenance: on with a length, the page and a reason; extend; off; show', () => {
    const on = (text: string) => ok(text) as Record<string, unknown>;
    assert.deepEqual(on('maintenance on --page for 10m "db upgrade"'), { name: 'maintenance', on: true, durationMs: 600_000, page: true, reason: 'db upgrade' });
    assert.deepEqual(on('maintenance on for 30m --page'), { name: 'maintenance', on: true, durationMs: 1_800_000, page: true });
    assert.deepEqual(on('maintenance --page on'), { name: 'maintenance', on: true, durationMs: undefined, page: true });
    assert.deepEqual(on('maintenance on 2h moving the database to new disks'), {
      name: 'maintenance',
      on: true,
      durationMs: 7_200_000,
      reason: 'moving the database to new disks',
    });
    // Reason words keep their case; Slack's smart quotes are taken off like straight ones.
    assert.deepEqual(on('maintenance on \u201cDB Upgrade\u201d'), { name: 'maintenance', on: true, durationMs: undefined, reason: 'DB Upgrade' });
    assert.deepEqual(on('maintenance on for 3s'), { name: 'maintenance', on: true, durationMs: 3000 });
    assert.deepEqual(on('maintenance extend 30m'), { name: 'maintenance', extendMs: 1_800_000 });
    assert.deepEqual(on('maintenance extend by 1h'), { name: 'maintenance', extendMs: 3_600_000 });
    assert.deepEqual(on('maintenance'), { name: 'maintenance', show: true });
    assert.deepEqual(on('MAINTENANCE OFF'), { name: 'maintenance', on: false });
  });

  it('writes maintenance commands back as they parse (audit lines, progress)', () => {
    for (const text of ['maintenance', 'maintenance off', 'maintenance on', 'maintenance on for 3s', 'maintenance extend 1h', 'maintenance on for 90m --page db upgrade']) {
      const cmd = ok(text);
      assert.equal(formatCommand(cmd), text);
      assert.deepEqual(ok(formatCommand(cmd)), cmd);
    }
    assert.deepEqual([formatDuration(3_600_000), formatDuration(90 * 60_000), formatDuration(1500), formatDuration(86_400_000)], ['1h', '90m', '1500ms', '1d']);
  });

  it('refuses maintenance it cannot read, naming the problem', () => {
    const e = error('maintenance extend');
    assert.match(e.error, /^maintenance: extend needs a duration \(e\.g\. maintenance extend 30m\)$/);
    assert.equal(e.usage, usageOf('maintenance'));
    assert.match(error('maintenance extend soon').error, /expected a duration such as 30m or 2h, got "soon"/);
    assert.match(error('maintenance extend 30m more').error, /unexpected "more"/);
    assert.match(error('maintenance extend 8d').error, /at most 7d/);
    assert.match(error('maintenance on 3x db').error, /expected a duration such as 30m or 2h, got "3x"/);
    assert.match(error('maintenance on for 0m').error, /expected a duration/);
    assert.match(error('maintenance off --page').error, /--page applies to "maintenance on", not to "maintenance off"/);
    assert.match(error('maintenance --page').error, /--page applies to "maintenance on"/);
    assert.match(error('maintenance extend 30m --page').error, /--page applies to "maintenance on"/);
    assert.match(error('switch green --page').error, /--page applies to "maintenance on", not to switch/);
    assert.match(error('maintenance on --pages').error, /unknown option "--pages"/);
    assert.match(error('maintenance on --force').error, /--force does not apply to maintenance/);
    assert.match(error(`maintenance on for 1h ${'x'.repeat(301)}`).error, /reason can be at most 300 characters, got 301/);
  });

  it('reads scale: a pool and a whole number of replicas from 0 to 50, --force anywhere', () => {
    assert.deepEqual(ok('scale blue 3'), { name: 'scale', pool: 'blue', replicas: 3, force: false });
    assert.deepEqual(ok('scale green 0'), { name: 'scale', pool: 'green', replicas: 0, force: false });
    assert.deepEqual(ok('scale blue 50'), { name: 'scale', pool: 'blue', replicas: 50, force: false });
    assert.deepEqual(ok('scale blue 3 --force'), { name: 'scale', pool: 'blue', replicas: 3, force: true });
    assert.deepEqual(ok('SCALE --force Green 07'), { name: 'scale', pool: 'green', replicas: 7, force: true });
    assert.equal(isMutating(ok('scale blue 3')), true, 'scale changes the system: admins only');
    for (const text of ['scale blue 3', 'scale green 0 --force']) assert.equal(formatCommand(ok(text)), text);
  });

  it('refuses scale it cannot read, naming the problem, the limit and the usage', () => {
    const usage = usageOf('scale');
    assert.match(usage, /^scale blue\|green N \[--force\]/);
    assert.match(usage, /Swarm mode only/);
    assert.ok(usageOf().split('\n').includes(usage), 'help lists scale');
    const cases: [string, RegExp][] = [
      ['scale', /^scale: missing pool \(blue or green\)$/],
      ['scale blue', /^scale: missing number of replicas \(0 to 50\)$/],
      ['scale red 2', /^scale: expected a pool \(blue or green\), got "red"$/],
      ['scale blue -1', /^scale: expected a whole number of replicas from 0 to 50, got "-1"$/],
      ['scale blue 2.5', /^scale: expected a whole number of replicas from 0 to 50, got "2\.5"$/],
      ['scale blue three', /expected a whole number of replicas from 0 to 50, got "three"/],
      ['scale blue 1e1', /expected a whole number of replicas/],
      ['scale blue 51', /^scale: at most 50 replicas per pool, got 51$/],
      ['scale blue 99999999999999999999999', /at most 50 replicas per pool/],
      ['scale blue 3 now', /^scale: unexpected "now"$/],
      ['scale blue 3 4', /^scale: unexpected "4"$/],
      ['scale 3 blue', /expected a pool \(blue or green\), got "3"/],
      ['scale blue 3 --page', /--page applies to "maintenance on", not to scale/],
      ['scale blue 3 --now', /unknown option "--now"/],
    ];
    for (const [text, want] of cases) {
      const e = error(text);
      assert.match(e.error, want, text);
      assert.equal(e.usage, usage, `${text}: the usage of scale`);
    }
  });

  it('answers an unknown command with the full usage', () => {
    const e = error('swtich green');
    assert.equal(e.error, 'unknown command "swtich"');
    assert.equal(e.usage, usageOf());
    for (const word of ['status', 'switch', 'rollback', 'maintenance', 'chaos', 'deploy']) assert.match(e.usage, new RegExp(word));
  });
});
