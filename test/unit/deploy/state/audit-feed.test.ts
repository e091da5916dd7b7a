import assert from 'node:assert/strict';
import { appendFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createAuditFeed } from '../../../../src/deploy/state/audit-feed.js';
import { auditFileOf, createStateStore } from '../../../../src/deploy/state/state-store.js';
import type { AuditEntry } from '../../../../src/shared/audit-entry.js';
import { captureLogger } from '../fakes.js';

const entry = (op: string): AuditEntry => ({ at: '2026-11-30T12:00:00.000Z', by: { kind: 'cli', id: 'root' }, op, args: {}, result: 'ok', message: op, durationMs: 1 });

describe('audit feed', () => {
  it('hands on each entry another process appends, once and in order, from where it started', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bg-audit-'));
    const cli = createStateStore(dir); // the CLI process writes through its own store
    await cli.audit(entry('before-start'));
    const seen: string[] = [];
    const feed = createAuditFeed({ file: auditFileOf(dir), onEntry: (e) => seen.push(e.op), log: captureLogger().log, pollMs: 60_000 });
    await feed.start();
    await cli.audit(entry('switch'));
    await cli.audit(entry('chaos_start'));
    await feed.poll();
    assert.deepEqual(seen, ['switch', 'chaos_start'], 'history before the start is not posted again');
    await feed.poll();
    assert.equal(seen.length, 2);
    // A line written in two pieces is handed on once it is whole; a garbled one is skipped.
    await appendFile(auditFileOf(dir), JSON.stringify(entry('rollback')).slice(0, 20));
    await feed.poll();
    assert.equal(seen.length, 2);
    await appendFile(auditFileOf(dir), `${JSON.stringify(entry('rollback')).slice(20)}\nnot json\n`);
    await feed.poll();
    assert.deepEqual(seen, ['switch', 'chaos_start', 'rollback']);
    // Cut by hand: read again from the start.
    await writeFile(auditFileOf(dir), `${JSON.stringify(entry('after-cut'))}\n`);
    await feed.poll();
    assert.deepEqual(seen.at(-1), 'after-cut');
    feed.stop();
  });

  it('a file that does not exist yet is no error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bg-audit-'));
    const seen: string[] = [];
    const feed = createAuditFeed({ file: auditFileOf(dir), onEntry: (e) => seen.push(e.op), log: captureLogger().log });
    await feed.start();
    await feed.poll();
    await createStateStore(dir).audit(entry('first'));
    await feed.poll();
    assert.deepEqual(seen, ['first']);
    feed.stop();
  });
});
