import type { Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../log.js';
import { MAX_LINE_BYTES } from './parse-access-line.js';

/** Where reading stopped: the first byte of the first line not yet handed over. */
export interface TailPosition {
  inode: number;
  offset: number;
}

/**
 * Receives complete lines as bytes: buf[start, end) holds one or more lines separated by '\n'
 * (end excludes the last one's newline). No string is made here: the reader parses the bytes
 * (see AccessLineReader). buf is reused for the next read, so its bytes are only valid during the
 * call. A sink should not throw: when it does, the error is logged, the rest of that chunk is
 * skipped, and reading goes on (the watcher's sink catches per line).
 */
export interface LineSink {
  lines(buf: Buffer, start: number, end: number): void;
  /** A line longer than MAX_LINE_BYTES was skipped. */
  huge(bytes: number): void;
  /** Called after each read: a good moment for batch work. */
  batchEnd(): void;
}

export interface PositionStore {
  load(): Promise<TailPosition | undefined>;
  save(pos: TailPosition): Promise<void>;
}

export interface TailOptions {
  path: string;
  sink: LineSink;
  log: Logger;
  /** Persisted position: a restart resumes there. */
  store?: PositionStore;
  /** Where to begin when nothing was persisted and the file exists: its end (default) or start. */
  startAt?: 'end' | 'start';
  chunkBytes?: number;
  /** Safety net when no change event comes (e.g. some network file systems). */
  pollMs?: number;
  /** While the file grows, read again this soon; chokidar throttles `change` events to one per 50 ms. */
  activePollMs?: number;
  saveEveryMs?: number;
  /** After a rename rotation, keep reading the old file this long: nginx writes to it until reopened. */
  rotationGraceMs?: number;
  /** Names a rotated file may have, to recover lines after copytruncate or across a restart. */
  rotatedNames?: (path: string) => string[];
}

/** After a change event or a read with data, keep reading every activePollMs this long. */
const HOT_MS = 60;
/** Most time between two checks that the path still names the file we read. */
const IDENTITY_MS = 250;

/** One open file and what is pending in it. */
class Source {
  fd: FileHandle;
  inode: number;
  offset: number;
  size = 0;
  /** A partial last line waiting for its newline. */
  rest: Buffer | undefined = undefined;
  /** Bytes of a too-long line being skipped (-1: not skipping). */
  skipping = -1;
  /** Last bytes before `offset`, to recognise this file's copy after copytruncate. */
  tailBytes: Buffer = Buffer.alloc(0);
  retireAt = Infinity;
  /** 0 once the file was deleted: the path, if it exists, is another file (even with our inode). */
  nlink = 1;

  constructor(fd: FileHandle, inode: number, offset: number) {
    this.fd = fd;
    this.inode = inode;
    this.offset = offset;
  }

  get pending(): number {
    return this.skipping >= 0 ? this.skipping : (this.rest?.length ?? 0);
  }
}

/**
 * Follows a log file by byte offsets. chokidar only says "something changed"; every read starts
 * at our own offset, so nothing depends on event counts. Survives rename rotation (old file drained
 * for rotationGraceMs), copytruncate (size shrinks: the lost tail is read from the rotated copy when
 * one is found), delete and recreate, and a file that does not exist yet.
 */
export class TailFile {
  readonly #o: Required<Omit<TailOptions, 'store'>> & { store: PositionStore | undefined };
  #cur: Source | undefined;
  #old: Source[] = [];
  #watcher: FSWatcher | undefined;
  #watching: string | undefined;
  #poll: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;
  #pumping = false;
  #again = false;
  #stopped = true;
  #saved: TailPosition | undefined;
  #lastSaveAt = 0;
  #saveTimer: NodeJS.Timeout | undefined;
  #bufs: [Buffer, Buffer];
  #idle: (() => void)[] = [];
  #hotUntil = 0;
  #identityDue = true;
  #identityAt = 0;
  #probeAt = 0;
  /** When the current file was last stat'ed and probed (#drain's checking path). */
  #checkedAt = 0;
  /** Bytes written to the file and not read yet. */
  lagBytes = 0;
  bytesRead = 0;

  constructor(options: TailOptions) {
    this.#o = {
      startAt: 'end',
      chunkBytes: 1024 * 1024,
      pollMs: 1000,
      activePollMs: 10,
      saveEveryMs: 1000,
      rotationGraceMs: 5000,
      rotatedNames: (p) => [`${p}.1`],
      ...options,
      store: options.store,
    };
    this.#bufs = [Buffer.allocUnsafe(this.#o.chunkBytes), Buffer.allocUnsafe(this.#o.chunkBytes)];
  }

  async start(): Promise<void> {
    this.#stopped = false;
    this.#saved = await this.#o.store?.load();
    await this.#pumpNow(true);
    await this.#rewatch();
    this.#poll = setInterval(() => this.#pump(), this.#o.pollMs);
    this.#poll.unref();
    // The file may have changed between the first read and the watcher being ready.
    this.#pump();
  }

  /**
   * Watch the file itself while it exists (a folder watch makes chokidar re-read the folder on
   * every write: most of the CPU at a few thousand lines/s), else its folder, one level deep, for
   * the file to appear. Re-aimed after a rotation and on add/unlink.
   */
  async #rewatch(force = false): Promise<void> {
    if (this.#stopped) return;
    const path = resolve(this.#o.path);
    const dir = dirname(path);
    const exists = await stat(path).then(
      () => true,
      () => false,
    );
    const target = exists ? path : dir;
    // fs.watch on a file follows its inode: after a rotation the same path needs a new watch.
    if (target === this.#watching && this.#watcher && !force) return;
    const old = this.#watcher;
    this.#watching = target;
    const w = watch(target, { ignoreInitial: true, persistent: true, atomic: false, depth: 0, ignored: (p) => p !== dir && p !== path });
    this.#watcher = w;
    w.on('all', (event, p) => {
      if (p !== path) return;
      if (event !== 'change') {
        this.#identityDue = true;
        void this.#rewatch(true);
      }
      // chokidar drops a `change` that follows another within 50 ms: stay hot a little longer.
      this.#hotUntil = Date.now() + HOT_MS;
      this.#pump();
    });
    w.on('error', (err) => this.#o.log.warn({ err }, 'file watcher error'));
    await new Promise<void>((r) => w.once('ready', () => r()));
    await old?.close();
    if (this.#stopped) await w.close(); // stop() ran meanwhile
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#poll);
    clearTimeout(this.#soon);
    clearTimeout(this.#saveTimer);
    await this.#watcher?.close();
    await this.#whenIdle();
    await this.#save(true);
    for (const s of [this.#cur, ...this.#old]) await s?.fd.close().catch(() => undefined);
    this.#cur = undefined;
    this.#old = [];
  }

  /** Read whatever is there now; resolves when the file has been read to its current end. */
  async poke(): Promise<void> {
    await this.#pumpNow(false);
  }

  position(): TailPosition | undefined {
    const c = this.#cur;
    return c ? { inode: c.inode, offset: c.offset - c.pending } : this.#saved;
  }

  #pump(): void {
    if (this.#stopped) return;
    void this.#pumpNow(false);
  }

  async #pumpNow(first: boolean): Promise<void> {
    if (this.#pumping) {
      this.#again = true;
      return this.#whenIdle();
    }
    this.#pumping = true;
    let readAny = false;
    try {
      do {
        this.#again = false;
        readAny = (await this.#step(first)) || readAny;
        first = false;
      } while (this.#again);
    } catch (err) {
      this.#o.log.error({ err, path: this.#o.path }, 'reading the access log failed; retrying on the next change');
    } finally {
      this.#pumping = false;
      const waiters = this.#idle;
      this.#idle = [];
      for (const w of waiters) w();
    }
    if (readAny) this.#hotUntil = Date.now() + HOT_MS;
    if (!this.#stopped && Date.now() < this.#hotUntil) {
      clearTimeout(this.#soon);
      this.#soon = setTimeout(() => this.#pump(), this.#o.activePollMs);
    }
    this.#scheduleSave();
  }

  #whenIdle(): Promise<void> {
    if (!this.#pumping) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async #step(first: boolean): Promise<boolean> {
    let read = false;
    const cur = this.#cur;
    if (cur) read = (await this.#drain(cur, true)) || read;

    // Has the path been pointed at another file? Asked when chokidar saw an add/unlink, and at
    // least every IDENTITY_MS: a stat per read would be most of the CPU at a few thousand lines/s.
    const now0 = Date.now();
    if (cur && !this.#identityDue && cur.nlink > 0 && now0 - this.#identityAt < IDENTITY_MS) return read || this.#drainOld(read);
    this.#identityDue = false;
    this.#identityAt = now0;
    let st: Stats | undefined;
    try {
      st = await stat(this.#o.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (st && (!cur || st.ino !== cur.inode || cur.nlink === 0)) {
      if (cur) {
        // Renamed or deleted and recreated: nginx may still append to the old file until it
        // reopens its log, so keep reading it for a while.
        cur.retireAt = Date.now() + this.#o.rotationGraceMs;
        this.#old.push(cur);
        this.#o.log.info({ path: this.#o.path, oldInode: cur.inode, newInode: st.ino }, 'access log rotated');
      }
      read = (await this.#openCurrent(st.ino, st.size, first && !cur)) || read;
      if (!first) void this.#rewatch(true);
    }

    return this.#drainOld(read);
  }

  async #drainOld(read: boolean): Promise<boolean> {
    const now = Date.now();
    for (const old of [...this.#old]) {
      read = (await this.#drain(old, false)) || read;
      if (now >= old.retireAt) {
        this.#old.splice(this.#old.indexOf(old), 1);
        await old.fd.close().catch(() => undefined);
      }
    }
    return read;
  }

  async #openCurrent(inode: number, size: number, atStart: boolean): Promise<boolean> {
    let fd: FileHandle;
    try {
      fd = await open(this.#o.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    const real = await fd.stat();
    let offset = 0;
    let read = false;
    const saved = this.#saved;
    if (atStart && saved) {
      if (saved.inode === real.ino && saved.offset <= real.size) offset = saved.offset;
      else read = await this.#catchUpRotated(saved);
    } else if (atStart && this.#o.startAt === 'end') {
      offset = size;
    }
    this.#saved = undefined;
    this.#cur = new Source(fd, real.ino, offset);
    if (offset > 0) this.#cur.tailBytes = await this.#readTailBytes(fd, offset);
    return (await this.#drain(this.#cur, true)) || read;
  }

  /** The file rotated while we were stopped: finish the old one (found by inode) from where we were. */
  async #catchUpRotated(saved: TailPosition): Promise<boolean> {
    for (const name of this.#o.rotatedNames(this.#o.path)) {
      try {
        const fd = await open(name, 'r');
        const st = await fd.stat();
        if (st.ino === saved.inode && st.size >= saved.offset) {
          const src = new Source(fd, st.ino, saved.offset);
          const read = await this.#drain(src, false);
          this.#flushRest(src);
          await fd.close();
          this.#o.log.info({ file: name, offset: saved.offset }, 'read the rest of the rotated access log');
          return read;
        }
        await fd.close();
      } catch {
        // not there: try the next name
      }
    }
    this.#o.log.warn({ saved }, 'access log rotated while stopped and the old file was not found: lines may be missing');
    return false;
  }

  async #readTailBytes(fd: FileHandle, offset: number): Promise<Buffer> {
    const n = Math.min(64, offset);
    const b = Buffer.alloc(n);
    await fd.read(b, 0, n, offset - n);
    return b;
  }

  /**
   * While the current file just grows, one read does it all: it starts 64 bytes before our offset,
   * and those bytes matching the ones we read there proves the file was neither truncated nor
   * rewritten, so neither a stat nor a separate probe is needed. Bytes that differ can only mean
   * the file was cut and written again ('rewritten', even at the same size); a short read, a cut
   * ('check'), or a full buffer that may hide a backlog ('more') go to the checking path below.
   */
  async #quickDrain(src: Source): Promise<'none' | 'read' | 'more' | 'check' | 'rewritten'> {
    const mark = src.tailBytes;
    const m = mark.length;
    const buf = this.#bufs[0];
    const { bytesRead } = await src.fd.read(buf, 0, buf.length, src.offset - m);
    if (bytesRead < m) return 'check';
    if (buf.compare(mark, 0, m, 0, m) !== 0) return 'rewritten';
    const n = bytesRead - m;
    if (n === 0) return 'none';
    src.offset += n;
    src.size = Math.max(src.size, src.offset);
    this.bytesRead += n;
    this.#consume(src, buf.subarray(m, bytesRead));
    this.lagBytes = 0;
    this.#o.sink.batchEnd();
    return bytesRead === buf.length ? 'more' : 'read';
  }

  /** Read src from its offset to its end. */
  async #drain(src: Source, current: boolean): Promise<boolean> {
    let quick = false;
    let rewritten = false;
    if (current && src.offset > 0 && src.tailBytes.length === Math.min(64, src.offset) && Date.now() - this.#checkedAt < IDENTITY_MS) {
      const q = await this.#quickDrain(src);
      if (q === 'none' || q === 'read') return q === 'read';
      quick = q === 'more';
      rewritten = q === 'rewritten';
    }
    if (current) this.#checkedAt = Date.now();
    let st = await src.fd.stat();
    src.nlink = st.nlink;
    if (st.size < src.offset || rewritten || (current && (await this.#rewritten(src, st.size)))) {
      // copytruncate: the file was copied then cut to 0. Lines we had not read are in the copy.
      if (current) await this.#recoverTruncated(src);
      src.offset = 0;
      src.rest = undefined;
      src.skipping = -1;
      src.tailBytes = Buffer.alloc(0);
      st = await src.fd.stat();
    }
    src.size = st.size;
    let read = false;
    // Two buffers: while the lines of one are handed over, the next chunk is read into the other,
    // so catching up on a backlog costs the parse time rather than parse + copy.
    let [buf, spare] = this.#bufs;
    let next = src.offset < src.size ? readChunk(src, buf, src.offset, src.size) : undefined;
    while (next !== undefined) {
      const bytesRead = await next;
      next = undefined;
      if (bytesRead === 0) break;
      src.offset += bytesRead;
      this.bytesRead += bytesRead;
      const chunk = buf.subarray(0, bytesRead);
      [buf, spare] = [spare, buf];
      if (src.offset < src.size) next = readChunk(src, buf, src.offset, src.size);
      try {
        this.#consume(src, chunk);
        read = true;
        if (current) this.lagBytes = Math.max(0, src.size - src.offset);
        this.#o.sink.batchEnd();
      } catch (err) {
        // The read in flight writes into a buffer the next drain reuses: let it land first.
        await next?.catch(() => {});
        throw err;
      }
    }
    if (current) this.lagBytes = Math.max(0, src.size - src.offset);
    return read || quick;
  }

  /**
   * Truncated and written past our offset again between two looks: the size alone cannot tell,
   * the bytes just before our offset can.
   */
  async #rewritten(src: Source, size: number): Promise<boolean> {
    const mark = src.tailBytes;
    if (src.offset === 0 || mark.length === 0) return false;
    // Only worth a read when the file changed size or a while has passed.
    const now = Date.now();
    if (size === src.size && now - this.#probeAt < IDENTITY_MS) return false;
    this.#probeAt = now;
    const probe = Buffer.alloc(mark.length);
    const { bytesRead } = await src.fd.read(probe, 0, mark.length, src.offset - mark.length);
    return bytesRead === mark.length && !probe.equals(mark);
  }

  async #recoverTruncated(src: Source): Promise<void> {
    const mark = src.tailBytes;
    for (const name of this.#o.rotatedNames(this.#o.path)) {
      let fd: FileHandle | undefined;
      try {
        fd = await open(name, 'r');
        const st = await fd.stat();
        if (st.size < src.offset) continue;
        const probe = Buffer.alloc(mark.length);
        await fd.read(probe, 0, mark.length, src.offset - mark.length);
        if (!probe.equals(mark)) continue;
        const copy = new Source(fd, st.ino, src.offset);
        copy.rest = src.rest;
        copy.skipping = src.skipping;
        await this.#drain(copy, false);
        this.#flushRest(copy);
        this.#o.log.info({ file: name, from: src.offset, to: st.size }, 'access log truncated (copytruncate): read the rest from the copy');
        return;
      } catch {
        // not there or unreadable: try the next name
      } finally {
        await fd?.close().catch(() => undefined);
      }
    }
    this.#o.log.warn({ path: this.#o.path, offset: src.offset }, 'access log truncated (copytruncate) and no copy found: unread lines are lost');
  }

  /** A file that will not grow again: its last line may lack a newline. */
  #flushRest(src: Source): void {
    if (src.rest && src.rest.length > 0) this.#deliver(src.rest, 0, src.rest.length);
    src.rest = undefined;
    this.#o.sink.batchEnd();
  }

  #consume(src: Source, chunk: Buffer): void {
    const tb = Math.min(64, chunk.length);
    src.tailBytes =
      tb === 64 ? Buffer.from(chunk.subarray(chunk.length - 64)) : Buffer.concat([src.tailBytes, chunk]).subarray(-64);
    let pos = 0;
    if (src.rest !== undefined || src.skipping >= 0) {
      const nl = chunk.indexOf(10);
      if (nl < 0) {
        this.#keep(src, chunk);
        return;
      }
      if (src.skipping >= 0) {
        this.#o.sink.huge(src.skipping + nl);
        src.skipping = -1;
      } else {
        const line = Buffer.concat([src.rest!, chunk.subarray(0, nl)]);
        this.#deliver(line, 0, line.length);
      }
      src.rest = undefined;
      pos = nl + 1;
    }
    const last = chunk.lastIndexOf(10);
    if (last >= pos) {
      this.#deliver(chunk, pos, last);
      pos = last + 1;
    }
    if (pos < chunk.length) this.#keep(src, chunk.subarray(pos));
  }

  #keep(src: Source, bytes: Buffer): void {
    if (src.skipping >= 0) {
      src.skipping += bytes.length;
      return;
    }
    const have = src.rest?.length ?? 0;
    if (have + bytes.length > MAX_LINE_BYTES) {
      src.skipping = have + bytes.length;
      src.rest = undefined;
      return;
    }
    src.rest = src.rest ? Buffer.concat([src.rest, bytes]) : Buffer.from(bytes);
  }

  /** Hand over the newline-separated lines of buf[start, end) (end excludes the last newline). */
  #deliver(buf: Buffer, start: number, end: number): void {
    this.#o.sink.lines(buf, start, end);
  }

  #scheduleSave(): void {
    if (!this.#o.store || this.#saveTimer || this.#stopped) return;
    const wait = Math.max(0, this.#lastSaveAt + this.#o.saveEveryMs - Date.now());
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      void this.#save(false);
    }, wait);
    this.#saveTimer.unref();
  }

  #lastSaved: string | undefined;

  async #save(force: boolean): Promise<void> {
    const pos = this.position();
    if (!this.#o.store || !pos) return;
    const key = `${pos.inode}:${pos.offset}`;
    if (!force && key === this.#lastSaved) return;
    this.#lastSaveAt = Date.now();
    try {
      await this.#o.store.save(pos);
      this.#lastSaved = key;
    } catch (err) {
      this.#o.log.warn({ err }, 'could not save the access-log position');
    }
  }
}

async function readChunk(src: Source, buf: Buffer, offset: number, size: number): Promise<number> {
  const want = Math.min(buf.length, size - offset);
  return (await src.fd.read(buf, 0, want, offset)).bytesRead;
}
