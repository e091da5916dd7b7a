import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, rename, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createAuditFeed } from '../../../../src/deploy/state/audit-feed.js';
import { auditFileOf, createStateStore } from '../../../../src/deploy/state/state-store.js';
import type { AuditEntry } from '../../../../src/shared/audit-entry.js';
import { captureLogger } from '../fakes.js';

const entry = (op: string, by = 'root'): AuditEntry => ({
  at: '2026-11-30T12:00:00.000Z',
  by: { kind: 'cli', id: by },
  op,
  args: { note: 'x'.repeat(40) },
  result: 'ok',
  message: op,
  durationMs: 1,
});

/** Bytes of one line of entry(op): the tests write ops of one length so sizes are easy to reason about. */
const lineBytes = Buffer.byteLength(`${JSON.stringify(entry('op-000'))}\n`);

describe('audit.jsonl rotates at a size, and the feed reads every line once across rotations', () => {
  it('renames audit.jsonl to audit.jsonl.1 before a line would pass the size, keeps the newest files, and readAudit reads them in order', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bg-rotate-'));
    const maxBytes = lineBytes * 10;
    const store = createStateStore(dir, { auditRotation: { maxBytes, keep: 2 } });
    for (let i = 0; i < 45; i += 1) await store.audit(entry(`op-${String(i).padStart(3, '0')}`));
    const files = (await readdir(dir)).filter((f) => f.startsWith('audit.jsonl')).sort();
    assert.deepEqual(files, ['audit.jsonl', 'audit.jsonl.1', 'audit.jsonl.2'], 'two rotated files kept, the oldest deleted');
    for (const f of files) assert.ok((await stat(join(dir, f))).size <= maxBytes, `${f} is at most the size`);
    // 45 lines, 10 a file: 40 were rotated (the oldest 20 deleted), 5 in the current file.
    assert.deepEqual(
      (await store.readAudit()).map((e) => e.op),
      Array.from({ length: 25 }, (_, i) => `op-${String(20 + i).padStart(3, '0')}`),
    );
  });

  it('the feed hands on every line once, in order, whether it reads between rotations or after several', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bg-rotate-'));
    const store = createStateStore(dir, { auditRotation: { maxBytes: lineBytes * 4, keep: 5 } });
    await store.audit(entry('op-old'));
    const seen: string[] = [];
    const logs = captureLogger();
    const feed = createAuditFeed({ file: auditFileOf(dir), onEntry: (e) => seen.push(e.op), log: logs.log, pollMs: 60_000 });
    await feed.start();
    const written: string[] = [];
    // Reads after 1, 2, 3 … lines: some fall just before a rotation, some just after, and the last
    // gaps span three rotations (12 lines, 4 a file).
    let n = 0;
    for (const gap of [1, 2, 3, 4, 5, 1, 1, 7, 3, 12, 9]) {
      for (let i = 0; i < gap; i += 1) {
        const op = `op-${String(n++).padStart(3, '0')}`;
        written.push(op);
        await store.audit(entry(op));
      }
      await feed.poll();
    }
    assert.deepEqual(seen, written, 'every line once, none replayed, none lost');
    await feed.poll();
    assert.equal(seen.length, written.length);
    assert.ok(!logs.lines().some((l) => l.level === 40), 'nothing warned');
    feed.stop();
  });

  it('the feed reads what was appended just before a rename, then the new file from its start, even when it is already longer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bg-rotate-'));
    const file = auditFileOf(dir);
    const line = (op: string) => `${JSON.stringify(entry(op))}\n`;
    await appendFile(file, line('op-000'));
    const seen: string[] = [];
    const feed = createAuditFeed({ file, onEntry: (e) => seen.push(e.op), log: captureLogger().log, pollMs: 60_000 });
    await feed.start();
    await appendFile(file, line('op-001'));
    await feed.poll();
    // Between two reads: one more line in the old file, the rename, and more lines in the new file
    // than the old one held.
    await appendFile(file, line('op-002'));
    await rename(file, `${file}.1`);
    for (const op of ['op-003', 'op-004', 'op-005', 'op-006']) await appendFile(file, line(op));
    await feed.poll();
    await feed.poll();
    assert.deepEqual(seen, ['op-001', 'op-002', 'op-003', 'op-004', 'op-005', 'op-006']);
    feed.stop();
  });

  it('two processes appending at once (the bot and a CLI run) rotate once per size, and lose no line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bg-rotate-'));
    const limits = { maxBytes: lineBytes * 8, keep: 20 };
    const bot = createStateStore(dir, { auditRotation: limits });
    const cli = createStateStore(dir, { auditRotation: limits });
    const seen: string[] = [];
    const feed = createAuditFeed({ file: auditFileOf(dir), onEntry: (e) => seen.push(`${e.by.id}/${e.op}`), log: captureLogger().log, pollMs: 60_000 });
    await feed.start();
    // The two race for each rotation; the feed reads now and then in the middle of it.
    for (let i = 0; i < 60; i += 1) {
      const op = `op-${String(i).padStart(3, '0')}`;
      await Promise.all([bot.audit(entry(op, 'bot')), cli.audit(entry(op, 'cli')), i % 3 === 0 ? feed.poll() : undefined]);
    }
    await feed.poll();
    const all = (await bot.readAudit()).map((e) => `${e.by.id}/${e.op}`);
    assert.equal(all.length, 120, 'every line is in one of the files');
    assert.equal(new Set(all).size, 120);
    assert.deepEqual([...seen].sort(), [...all].sort(), 'the feed saw each line once');
    // Each writer's own lines stay in its order.
    for (const who of ['bot', 'cli']) assert.deepEqual(all.filter((l) => l.startsWith(who)), seen.filter((l) => l.startsWith(who)));
    // Without a lock around every append, the other writer's line of the same moment may land past the size.
    const files = (await readdir(dir)).filter((name) => name.startsWith('audit.jsonl'));
    for (const f of files) {
      const { size } = await stat(join(dir, f));
      assert.ok(size <= limits.maxBytes + lineBytes, `${f} is at most the size and one line`);
      // A file rotated twice for one size would leave a rotated file with a line or two.
      if (f !== 'audit.jsonl') assert.ok(size > limits.maxBytes - lineBytes, `${f} was full when it was rotated (${size} bytes)`);
    }
    feed.stop();
  });
});
