import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createStateStore } from '../../../../src/deploy/state/state-store.js';
import type { Actor } from '../../../../src/shared/actor.js';
import { SUPPRESSED_REFUSALS, type AuditEntry } from '../../../../src/shared/audit-entry.js';
import { captureLogger } from '../fakes.js';

const mallory: Actor = { kind: 'slack', id: 'U_MALLORY', name: 'mallory' };
const ana: Actor = { kind: 'slack', id: 'U_ANA', name: 'ana' };

const entry = (by: Actor, op: string, result: AuditEntry['result']): AuditEntry => ({
  at: new Date().toISOString(),
  by,
  op,
  args: { via: 'slash_command' },
  result,
  message: result === 'refused' ? 'refused by Slack authorization: you are not an admin' : `${op} done`,
  durationMs: 1,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('refusals are rate-limited before the audit log', () => {
  it('a flood of refusals from one user writes the first few, then one line that counts the rest; what ran is never held back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bg-refusals-'));
    const logs = captureLogger();
    const store = createStateStore(dir, { refusals: { perWindow: 3, windowMs: 150, log: logs.log } });
    // All asked within one window, however slow the disk is.
    await Promise.all([
      ...Array.from({ length: 200 }, (_, i) => store.audit(entry(mallory, i % 2 ? 'switch' : 'chaos_start', 'refused'))),
      // Another user's refusals have their own count; operations that ran are all written.
      store.audit(entry(ana, 'switch', 'refused')),
      ...Array.from({ length: 10 }, (_, i) => store.audit(entry(ana, 'maintenance', i % 2 ? 'ok' : 'failed'))),
    ]);
    let lines = await store.readAudit();
    assert.equal(lines.filter((l) => l.by.id === 'U_MALLORY' && l.op !== SUPPRESSED_REFUSALS).length, 3, 'three refusals of mallory, one by one');
    assert.equal(lines.filter((l) => l.by.id === 'U_ANA').length, 11);

    // When the window ends, one line counts the rest.
    for (let waited = 0; waited < 5000 && !lines.some((l) => l.op === SUPPRESSED_REFUSALS); waited += 50) {
      await sleep(50);
      lines = await store.readAudit();
    }
    const summary = lines.filter((l) => l.op === SUPPRESSED_REFUSALS);
    assert.equal(summary.length, 1, 'one line when the window ends');
    assert.equal(summary[0]?.by.id, 'U_MALLORY');
    assert.equal(summary[0]?.result, 'refused');
    assert.deepEqual(summary[0]?.args.count, 197);
    assert.deepEqual(summary[0]?.args.ops, { switch: 99, chaos_start: 98 });
    assert.match(summary[0]?.message ?? '', /^197 more refusals from mallory suppressed/);
    assert.equal(lines.length, 3 + 11 + 1);
    assert.ok(logs.lines().some((l) => l.msg === summary[0]?.message && l.suppressed === 197), 'the count is logged too');

    // A new window: written one by one again.
    await store.audit(entry(mallory, 'switch', 'refused'));
    assert.equal((await store.readAudit()).length, 3 + 11 + 1 + 1);
    await store.close();
  });

  it('close() writes the counts of windows still open (shutdown)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bg-refusals-'));
    const store = createStateStore(dir, { refusals: { perWindow: 2, windowMs: 60_000, log: captureLogger().log } });
    for (let i = 0; i < 7; i += 1) await store.audit(entry(mallory, 'switch', 'refused'));
    await store.close();
    const lines = await store.readAudit();
    assert.deepEqual(
      lines.map((l) => l.op),
      ['switch', 'switch', SUPPRESSED_REFUSALS],
    );
    assert.equal(lines[2]?.args.count, 5);
  });
});
