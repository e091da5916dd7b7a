import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { createOpLock } from '../../../../src/deploy/state/op-lock.js';

const by = { kind: 'cli' as const, id: 'alice', name: 'alice' };

describe('op lock', () => {
  it('runs one operation at a time in order and records the holder while it runs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bg-lock-'));
    const lock = createOpLock({ dir, waitMs: 1000 });
    const events: string[] = [];
    let seen: unknown;
    const a = lock.run('switch', by, async () => {
      events.push('a start');
      seen = await lock.holder();
      await new Promise((r) => setTimeout(r, 30));
      events.push('a end');
    });
    const b = lock.run('rollback', by, async () => {
      events.push('b start');
      events.push('b end');
    });
    await Promise.all([a, b]);
    assert.deepEqual(events, ['a start', 'a end', 'b start', 'b end']);
    assert.equal((seen as { op: string }).op, 'switch');
    assert.equal(await lock.holder(), undefined, 'released');
  });

  it('in one process too, gives up after its wait time, says who holds the lock since when, and never runs late', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bg-lock-'));
    const lock = createOpLock({ dir, waitMs: 100 });
    const bob = { kind: 'slack' as const, id: 'U1', name: 'bob' };
    let release!: () => void;
    const deploy = lock.run('deploy', bob, () => new Promise<string>((r) => (release = () => r('deployed'))));
    let ranLate = false;
    const started = Date.now();
    await assert.rejects(
      lock.run('switch', by, async () => {
        ranLate = true;
      }),
      (err: Error & { code?: string }) => err.code === 'LOCKED' && /deploy by bob since \d{4}-\d{2}-\d{2}T/.test(err.message),
    );
    const waited = Date.now() - started;
    assert.ok(waited >= 90 && waited < 1000, `gave up after ${waited} ms`);
    release();
    assert.equal(await deploy, 'deployed');
    // The next operation gets the lock, and the one that gave up stays given up.
    assert.equal(await lock.run('rollback', by, async () => 'ran'), 'ran');
    assert.equal(ranLate, false, 'the switch that gave up ran after the deploy');
  });

  it('waits for a lock held by another live process, then says who holds it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bg-lock-'));
    // A real other process stands in for a CLI run holding the lock.
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 5000)']);
    try {
      await writeFile(
        join(dir, 'operation.lock'),
        JSON.stringify({ op: 'deploy', by: { kind: 'slack', id: 'U1', name: 'bob' }, since: new Date().toISOString(), pid: other.pid }),
      );
      const lock = createOpLock({ dir, waitMs: 200 });
      await assert.rejects(
        lock.run('switch', by, async () => 'ran'),
        (err: Error & { code?: string }) => err.code === 'LOCKED' && /deploy by bob/.test(err.message),
      );
    } finally {
      other.kill();
    }
  });

  it('excludes other processes: no lost update across 4 processes x 5 rounds', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bg-lock-'));
    const child = fileURLToPath(new URL('./lock-child.ts', import.meta.url));
    const children = Array.from({ length: 4 }, () => spawn(process.execPath, ['--import', 'tsx', child, dir, '5'], { stdio: 'inherit' }));
    const codes = await Promise.all(children.map((c) => new Promise((r) => c.on('exit', r))));
    assert.deepEqual(codes, [0, 0, 0, 0]);
    assert.equal(await readFile(join(dir, 'counter'), 'utf8'), '20');
  });

  it('takes over a lock left by a dead process', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bg-lock-'));
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.on('exit', r));
    await writeFile(join(dir, 'operation.lock'), JSON.stringify({ op: 'deploy', by, since: new Date().toISOString(), pid: dead.pid }));
    const lock = createOpLock({ dir, waitMs: 200 });
    assert.equal(await lock.run('switch', by, async () => 'ran'), 'ran');
    await assert.rejects(readFile(join(dir, 'operation.lock')), /ENOENT/);
  });
});
