import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createStateStore, emptyState } from '../../../../src/deploy/state/state-store.js';

describe('state store', () => {
  it('starts empty, survives a new instance (a restart), and appends audit lines', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bg-state-'));
    const a = createStateStore(dir);
    assert.deepEqual(await a.read(), emptyState());
    await a.update((s) => {
      s.previousPool = 'green';
    });
    await a.audit({ at: 'now', by: { kind: 'cli', id: 'x' }, op: 'switch', args: { pool: 'blue' }, result: 'ok', message: 'm', durationMs: 3 });
    const b = createStateStore(dir);
    assert.equal((await b.read()).previousPool, 'green');
    assert.equal((await b.readAudit())[0]?.op, 'switch');
    assert.equal((await readFile(join(dir, 'audit.jsonl'), 'utf8')).split('\n').length, 2);
  });

  it('keeps concurrent updates in one process from losing each other', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bg-state-'));
    const s = createStateStore(dir);
    await Promise.all(
      (['blue', 'green'] as const).map((p) =>
        s.update((st) => {
          st.releases[p] = { image: `${p}:1`, releaseId: undefined, at: 'now', by: { kind: 'cli', id: 'x' } };
        }),
      ),
    );
    assert.deepEqual(Object.keys((await s.read()).releases).sort(), ['blue', 'green']);
  });

  it('starts clean from a hand-mangled file instead of crashing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bg-state-'));
    await writeFile(join(dir, 'state.json'), '{ not json');
    assert.deepEqual(await createStateStore(dir).read(), emptyState());
  });
});
