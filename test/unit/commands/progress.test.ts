import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLineProgress } from '../../../src/commands/progress.js';
import { runCommand } from '../../../src/commands/run-command.js';
import type { Operations } from '../../../src/deploy/operations.js';

describe('progress lines', () => {
  it('prints one line per step with the time since the start', () => {
    let t = 1000;
    const lines: string[] = [];
    const p = createLineProgress((l) => lines.push(l), () => t);
    t = 1250;
    p('checking the stack');
    t = 13_400;
    p('chaos start blue error');
    assert.deepEqual(lines, ['[  0.3s] checking the stack\n', '[ 12.4s] chaos start blue error\n']);
  });

  it('the runner frames changes with start and result lines, and passes progress to the drill', async () => {
    const steps: string[] = [];
    const ops = { rollback: async () => ({ status: 'refused', reason: 'nothing to roll back to' }) } as unknown as Operations;
    const by = { kind: 'cli' as const, id: 't' };
    await runCommand({ name: 'rollback' }, { ops, by, progress: (s) => steps.push(s) });
    assert.deepEqual(steps, ['rollback: started', 'rollback: refused']);
    // The operation's own steps come between the two.
    steps.length = 0;
    const stepping = {
      switchPool: async (_pool: string, o: { progress?: (s: string) => void }) => (o.progress?.('health check of green'), { status: 'ok', message: 'Switched' }),
    } as unknown as Operations;
    await runCommand({ name: 'switch', pool: 'green', force: false }, { ops: stepping, by, progress: (s) => steps.push(s) });
    assert.deepEqual(steps, ['switch: started', 'health check of green', 'switch: ok']);
    steps.length = 0;
    const r = await runCommand({ name: 'drill' }, { ops, by, progress: (s) => steps.push(s), drill: async (p) => (p('step one'), { status: 'ok', message: 'done' }) });
    assert.equal(r.status, 'ok');
    assert.deepEqual(steps, ['step one']);
  });
});
