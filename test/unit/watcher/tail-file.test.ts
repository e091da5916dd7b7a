import assert from 'node:assert/strict';
import { closeSync, copyFileSync, ftruncateSync, mkdtempSync, openSync, renameSync, rmSync, unlinkSync, writeSync, appendFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { TailFile, type LineSink, type PositionStore, type TailPosition } from '../../../src/watcher/tail-file.js';

const log = pino({ level: process.env.TAIL_TEST_LOG ?? 'silent' });
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tail-'));
  dirs.push(d);
  return join(d, 'access.json.log');
}

function collector() {
  const lines: string[] = [];
  let huge = 0;
  const sink: LineSink = {
    lines: (buf, s, e) => lines.push(...buf.toString('utf8', s, e).split('\n')),
    huge: () => huge++,
    batchEnd: () => undefined,
  };
  return { sink, lines, huge: () => huge };
}

function memoryStore(initial?: TailPosition): PositionStore & { pos: TailPosition | undefined } {
  const store = {
    pos: initial,
    load: () => Promise.resolve(store.pos),
    save: (p: TailPosition) => {
      store.pos = p;
      return Promise.resolve();
    },
  };
  return store;
}

async function until(cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(10);
  }
}

function numbered(n: number): string {
  return `{"n":${n},"pad":"${'x'.repeat(n % 200)}"}`;
}

/** Lines from..from+count-1 as a file's text, each ending in a newline. */
function numberedText(count: number, from = 0): string {
  return Array.from({ length: count }, (_, i) => `${numbered(from + i)}\n`).join('');
}

/** Asserts every line 0..n-1 arrived exactly once. */
function assertExactlyOnce(lines: string[], n: number): void {
  const seen = new Map<number, number>();
  for (const l of lines) {
    const k = (JSON.parse(l) as { n: number }).n;
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  const missing = [];
  const twice = [];
  for (let i = 0; i < n; i++) {
    const c = seen.get(i) ?? 0;
    if (c === 0) missing.push(i);
    if (c > 1) twice.push(i);
  }
  assert.deepEqual({ missing: missing.slice(0, 10), twice: twice.slice(0, 10), total: lines.length }, { missing: [], twice: [], total: n });
}

type Rotation = 'rename' | 'copytruncate' | 'delete-recreate';

/** A writer like nginx: holds its file open (O_APPEND) until it "reopens" after a rotation. */
async function writeWithRotation(path: string, total: number, rotation: Rotation): Promise<void> {
  let fd = openSync(path, 'a');
  for (let i = 0; i < total; ) {
    const batch: string[] = [];
    for (let k = 0; k < 37 && i < total; k++, i++) batch.push(numbered(i));
    writeSync(fd, batch.join('\n') + '\n');
    if (i >= total / 2 && i - batch.length < total / 2) {
      if (rotation === 'rename') {
        renameSync(path, `${path}.1`);
        writeSync(fd, numbered(i++) + '\n'); // nginx writes to the renamed file until it reopens
        await sleep(5);
        writeSync(fd, numbered(i++) + '\n');
        closeSync(fd);
        fd = openSync(path, 'a');
      } else if (rotation === 'copytruncate') {
        copyFileSync(path, `${path}.1`);
        ftruncateSync(fd, 0);
      } else {
        unlinkSync(path);
        writeSync(fd, numbered(i++) + '\n');
        closeSync(fd);
        await sleep(5);
        fd = openSync(path, 'a');
      }
    }
    if (i % 370 === 0) await sleep(1);
  }
  closeSync(fd);
}

describe('TailFile', () => {
  for (const rotation of ['rename', 'copytruncate', 'delete-recreate'] as const) {
    it(`reads every line exactly once across a ${rotation} rotation while a writer appends 10,000 lines`, async () => {
      const path = tmp();
      writeFileSync(path, '');
      const c = collector();
      const tail = new TailFile({ path, sink: c.sink, log, startAt: 'start', pollMs: 50, rotationGraceMs: 2000 });
      await tail.start();
      await writeWithRotation(path, 10_000, rotation);
      await until(() => c.lines.length >= 10_000);
      await sleep(100);
      await tail.stop();
      assertExactlyOnce(c.lines, 10_000);
    });
  }

  it('waits for a file that does not exist yet, then reads it from its start', async () => {
    const path = tmp();
    const c = collector();
    const tail = new TailFile({ path, sink: c.sink, log, pollMs: 50 });
    await tail.start();
    appendFileSync(path, `${numbered(0)}\n${numbered(1)}\n`);
    await until(() => c.lines.length === 2);
    await tail.stop();
    assertExactlyOnce(c.lines, 2);
  });

  it('starts at the end of an existing file by default', async () => {
    const path = tmp();
    writeFileSync(path, `${numbered(99)}\n`);
    const c = collector();
    const tail = new TailFile({ path, sink: c.sink, log, pollMs: 50 });
    await tail.start();
    appendFileSync(path, `${numbered(0)}\n`);
    await until(() => c.lines.length === 1);
    await tail.stop();
    assertExactlyOnce(c.lines, 1);
  });

  it('keeps a partial last line until its newline arrives', async () => {
    const path = tmp();
    writeFileSync(path, '');
    const c = collector();
    const tail = new TailFile({ path, sink: c.sink, log, startAt: 'start', pollMs: 50 });
    await tail.start();
    const line = numbered(0);
    appendFileSync(path, line.slice(0, 10));
    await tail.poke();
    assert.equal(c.lines.length, 0);
    assert.deepEqual(tail.position()?.offset, 0, 'a partial line is not counted as read');
    appendFileSync(path, `${line.slice(10)}\n`);
    await until(() => c.lines.length === 1);
    await tail.stop();
    assert.deepEqual(c.lines, [line]);
  });

  it('skips a line over 1 MB without stalling, and counts it', async () => {
    const path = tmp();
    writeFileSync(path, '');
    const c = collector();
    const tail = new TailFile({ path, sink: c.sink, log, startAt: 'start', pollMs: 50, chunkBytes: 64 * 1024 });
    await tail.start();
    appendFileSync(path, `${numbered(0)}\n${'y'.repeat(1_500_000)}\n${numbered(1)}\n`);
    await until(() => c.lines.length === 2);
    await tail.stop();
    assertExactlyOnce(c.lines, 2);
    assert.equal(c.huge(), 1);
  });

  it('reads a backlog of many chunks in order, lines split across chunk ends, while the next chunk is being read', async () => {
    const path = tmp();
    const n = 20_000;
    writeFileSync(path, numberedText(n));
    const c = collector();
    let batches = 0;
    const sink: LineSink = { ...c.sink, batchEnd: () => void batches++ };
    const tail = new TailFile({ path, sink, log, startAt: 'start', pollMs: 60_000, chunkBytes: 4093 });
    await tail.start();
    await tail.poke();
    await tail.stop();
    assert.deepEqual(c.lines, Array.from({ length: n }, (_, i) => numbered(i)));
    assert.ok(batches > 500, `${batches} reads`);
  });

  it('a sink that throws: the error is logged and the tail goes on with the next chunk', async () => {
    const path = tmp();
    writeFileSync(path, numberedText(2_000));
    const c = collector();
    let fail = true;
    const sink: LineSink = {
      ...c.sink,
      lines: (buf, s, e) => {
        if (fail) {
          fail = false;
          throw new Error('sink failed');
        }
        c.sink.lines(buf, s, e);
      },
    };
    const tail = new TailFile({ path, sink, log, startAt: 'start', pollMs: 50, chunkBytes: 4096 });
    await tail.start();
    appendFileSync(path, `${numbered(2_000)}\n`);
    await until(() => c.lines.includes(numbered(2_000)));
    await tail.stop();
    assert.deepEqual(c.lines.at(-2), numbered(1_999));
  });

  it('truncated and written past its old end between two reads: the new lines are read from the start, once', async () => {
    const path = tmp();
    writeFileSync(path, numberedText(100));
    const c = collector();
    const tail = new TailFile({ path, sink: c.sink, log, startAt: 'start', pollMs: 60_000 });
    await tail.start();
    await tail.poke();
    assert.equal(c.lines.length, 100);
    // Still growing: read by the one-read path, which checks the bytes before the offset.
    appendFileSync(path, `${numbered(100)}\n`);
    await tail.poke();
    copyFileSync(path, `${path}.1`);
    const fd = openSync(path, 'r+');
    ftruncateSync(fd, 0);
    closeSync(fd);
    appendFileSync(path, numberedText(300, 101));
    await tail.poke();
    await tail.stop();
    assertExactlyOnce(c.lines, 401);
  });

  it('cut and written again to the very same size between two reads: the new text is read whole', async () => {
    const path = tmp();
    const before = numberedText(100);
    writeFileSync(path, before);
    const c = collector();
    const tail = new TailFile({ path, sink: c.sink, log, startAt: 'start', pollMs: 60_000 });
    await tail.start();
    await tail.poke();
    // A read by the checking path (its stat and probe are fresh), then one by the one-read path.
    await sleep(300);
    appendFileSync(path, `${numbered(100)}\n`);
    await tail.poke();
    appendFileSync(path, `${numbered(101)}\n`);
    await tail.poke();
    assert.equal(c.lines.length, 102);
    // Same length, other bytes: neither the size nor a probe that ran moments ago can tell.
    const after = (before + `${numbered(100)}\n${numbered(101)}\n`).replaceAll('x', 'y');
    const fd = openSync(path, 'r+');
    ftruncateSync(fd, 0);
    writeSync(fd, after, 0);
    closeSync(fd);
    await tail.poke();
    await tail.stop();
    assert.deepEqual(c.lines.slice(102), after.trimEnd().split('\n'));
  });

  it('resumes from the persisted position after a restart: nothing lost, nothing repeated', async () => {
    const path = tmp();
    writeFileSync(path, '');
    const store = memoryStore();
    const c = collector();
    let tail = new TailFile({ path, sink: c.sink, log, store, startAt: 'start', pollMs: 50 });
    await tail.start();
    for (let i = 0; i < 500; i++) appendFileSync(path, `${numbered(i)}\n`);
    await until(() => c.lines.length === 500);
    appendFileSync(path, numbered(500).slice(0, 5)); // half a line at stop time
    await tail.poke();
    await tail.stop();
    for (let i = 500; i < 1000; i++) appendFileSync(path, `${i === 500 ? numbered(i).slice(5) : numbered(i)}\n`);
    tail = new TailFile({ path, sink: c.sink, log, store, startAt: 'end', pollMs: 50 });
    await tail.start();
    await until(() => c.lines.length >= 1000);
    await tail.stop();
    assertExactlyOnce(c.lines, 1000);
  });

  it('after a restart, finishes a file rotated while stopped (found by inode) before the new one', async () => {
    const path = tmp();
    writeFileSync(path, '');
    const store = memoryStore();
    const c = collector();
    let tail = new TailFile({ path, sink: c.sink, log, store, startAt: 'start', pollMs: 50 });
    await tail.start();
    for (let i = 0; i < 100; i++) appendFileSync(path, `${numbered(i)}\n`);
    await until(() => c.lines.length === 100);
    await tail.stop();
    for (let i = 100; i < 150; i++) appendFileSync(path, `${numbered(i)}\n`);
    renameSync(path, `${path}.1`);
    for (let i = 150; i < 200; i++) appendFileSync(path, `${numbered(i)}\n`);
    tail = new TailFile({ path, sink: c.sink, log, store, pollMs: 50 });
    await tail.start();
    await until(() => c.lines.length >= 200);
    await tail.stop();
    assertExactlyOnce(c.lines, 200);
  });
});
