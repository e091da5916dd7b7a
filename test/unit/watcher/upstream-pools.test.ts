// Blame by address: nginx's table (upstream-pools, written by bluegreen-nginx-members) says which
// pool each upstream address is, so a failed attempt retried on another task of the same pool (Swarm)
// is blamed on that pool, not on the other one.
import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AccessLineReader } from '../../../src/watcher/access-line-reader.js';
import { parseUpstreamPools, UpstreamPools } from '../../../src/watcher/upstream-pools.js';
import { accessLine } from './fixtures.js';

describe("nginx's address table and the blame of absorbed failures", () => {
  let dir: string;
  let file: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bg-pools-'));
    file = join(dir, 'upstream-pools');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads `address:port pool` lines and skips anything else', () => {
    const t = parseUpstreamPools('10.0.1.5:3000 blue\n10.0.1.6:3000 green\n# note\nbad line\n10.0.1.7:3000 red\n\n');
    assert.deepEqual([...t], [
      ['10.0.1.5:3000', 'blue'],
      ['10.0.1.6:3000', 'green'],
    ]);
  });

  it('re-reads the file when it changed, at most once a second; a missing file names nothing', async () => {
    let now = 0;
    const pools = new UpstreamPools(file, () => now);
    assert.equal(pools.poolOf('10.0.1.5:3000'), undefined);
    await writeFile(file, '10.0.1.5:3000 blue\n');
    now = 500;
    assert.equal(pools.poolOf('10.0.1.5:3000'), undefined, 'not looked at again within a second');
    now = 1500;
    assert.equal(pools.poolOf('10.0.1.5:3000'), 'blue');
    await writeFile(file, '10.0.1.5:3000 green\n');
    await utimes(file, new Date(), new Date(Date.now() + 5000));
    now = 3000;
    assert.equal(pools.poolOf('10.0.1.5:3000'), 'green');
  });

  it('a failed task retried on another task of the same pool is blamed on that pool (both the fast reader and the parser path)', () => {
    const table = new Map([
      ['10.0.1.5:3000', 'blue'],
      ['10.0.1.6:3000', 'blue'],
      ['10.0.2.9:3000', 'green'],
    ] as const);
    const r = new AccessLineReader((a) => table.get(a as '10.0.1.5:3000'));
    const legacy = new AccessLineReader();
    const sameLine = accessLine({ upstreamAddr: '10.0.1.5:3000, 10.0.1.6:3000', upstreamStatus: '502, 200', pool: 'blue' });
    assert.equal(r.readLine(sameLine), undefined);
    assert.equal(r.parsedLines, 0, 'the fast path read it');
    assert.deepEqual([r.pool, r.attempts, r.attemptFailures, r.failedPool], ['blue', 2, 1, 'blue']);
    legacy.readLine(sameLine);
    assert.equal(legacy.failedPool, 'green', 'without the table, the order rule guesses the other pool');

    const failover = accessLine({ upstreamAddr: '10.0.1.5:3000, 10.0.1.6:3000, 10.0.2.9:3000', upstreamStatus: '-, 500, 200', pool: 'green' });
    r.readLine(failover);
    assert.deepEqual([r.attempts, r.attemptFailures, r.failedPool], [3, 2, 'blue']);

    // The parser path (an escaped character sends the line there) blames the same way.
    const escaped = sameLine.replace('"uri":"/"', '"uri":"/\\u00e9"');
    assert.equal(r.readLine(escaped), undefined);
    assert.equal(r.parsedLines, 1);
    assert.equal(r.failedPool, 'blue');

    // An address the table does not name: the order rule, as before.
    r.readLine(accessLine({ upstreamAddr: '10.9.9.9:3000, 10.0.2.9:3000', upstreamStatus: '500, 200', pool: 'green' }));
    assert.equal(r.failedPool, 'blue');
  });
});
