import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommand, usageOf } from '../../../src/commands/parse-command.js';

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
    assert.match(error('chaos start blue slow').error, /expected a chaos mode \(error or timeout\), got "slow"/);
    assert.match(error('chaos pause blue').error, /expected start or stop, got "pause"/);
    assert.match(error('maintenance on for').error, /missing duration/);
    assert.match(error('maintenance on for soon').error, /expected a duration such as 30m/);
    assert.match(error('maintenance on for 30d').error, /at most 7d/);
    assert.match(error('maintenance maybe').error, /expected on or off, got "maybe"/);
    assert.match(error('deploy green').error, /missing image/);
    assert.match(error('deploy green "app;rm"').error, /expected an image/);
    assert.match(error('deploy green app:1 rel$(x)').error, /expected a release id/);
    assert.match(error('status --force').error, /--force does not apply to status/);
    assert.match(error('switch green --now').error, /unknown option "--now"/);
  });

  it('answers an unknown command with the full usage', () => {
    const e = error('swtich green');
    assert.equal(e.error, 'unknown command "swtich"');
    assert.equal(e.usage, usageOf());
    for (const word of ['status', 'switch', 'rollback', 'maintenance', 'chaos', 'deploy']) assert.match(e.usage, new RegExp(word));
  });
});
