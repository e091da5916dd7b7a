// Child process for op-lock.test.ts: under the lock, a read-modify-write that loses updates unless
// the lock really excludes other processes.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createOpLock } from '../../../../src/deploy/state/op-lock.js';

const dir = process.argv[2]!;
const rounds = Number(process.argv[3] ?? 5);
const lock = createOpLock({ dir, waitMs: 20_000 });
const counter = join(dir, 'counter');
for (let i = 0; i < rounds; i++) {
  await lock.run('count', { kind: 'cli', id: `child-${process.pid}` }, async () => {
    const n = Number(await readFile(counter, 'utf8').catch(() => '0'));
    await new Promise((r) => setTimeout(r, 5));
    await writeFile(counter, String(n + 1));
  });
}
