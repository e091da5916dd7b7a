import { open, stat, type FileHandle } from 'node:fs/promises';
import { ifMissing } from '../../files.js';
import type { Logger } from '../../log.js';
import type { AuditEntry } from '../../shared/audit-entry.js';
import { rotatedFileOf } from './append-with-rotation.js';

// Every operation appends one line to STATE_DIR/audit.jsonl, whichever process ran it: the bot, a
// `bluegreen` CLI run with `docker compose exec`, the bot's own auto-demote and guard. The bot follows
// the file so each of them reaches the alert channel once, in order (the CLI process has no Slack).
//
// The file rotates (append-with-rotation.ts: audit.jsonl becomes audit.jsonl.1, a new audit.jsonl
// begins). The feed holds the file it reads open, so when the name points at another file (another
// inode) it still reads what was appended to the old one before the rename, then the files rotated
// after it if the log rotated more than once between two reads, then the new file from its start:
// every line once, none replayed.

export interface AuditFeedOptions {
  file: string;
  onEntry: (entry: AuditEntry) => void;
  log: Logger;
  pollMs?: number;
}

export interface AuditFeed {
  /** Starts at the file's current end: what was written before the bot started is history. */
  start(): Promise<void>;
  /** Reads what was appended since the last read (the timer calls this). */
  poll(): Promise<void>;
  stop(): void;
}

/** The file the feed reads, open, and which file it is. */
interface Held {
  fh: FileHandle;
  ino: number;
}

export function createAuditFeed(o: AuditFeedOptions): AuditFeed {
  let held: Held | undefined;
  /** With no file held (there was none at start): the newest rotated file then, whose lines are history. */
  let historyIno: number | undefined;
  let offset = 0;
  let partial = '';
  let timer: NodeJS.Timeout | undefined;
  let reading: Promise<void> | undefined;

  async function openIfThere(path: string): Promise<Held | undefined> {
    const fh = await open(path, 'r').catch(ifMissing(undefined));
    return fh && { fh, ino: (await fh.stat()).ino };
  }

  const inodeOf = (path: string): Promise<number | undefined> => stat(path).then((s) => s.ino, ifMissing(undefined));

  async function hold(next: Held | undefined): Promise<void> {
    if (partial.trim() !== '') o.log.warn({ line: partial.slice(0, 300) }, 'audit line cut off at the end of a rotated file skipped');
    await held?.fh.close();
    held = next;
    offset = 0;
    partial = '';
  }

  /** Hands on the whole lines appended to the held file since the last read. */
  async function readHeld(): Promise<void> {
    if (!held) return;
    const end = (await held.fh.stat()).size;
    if (end < offset) {
      // Cut by hand (the same file, shorter): read it again from the start.
      offset = 0;
      partial = '';
    }
    if (end === offset) return;
    const buf = Buffer.alloc(end - offset);
    const { bytesRead } = await held.fh.read(buf, 0, buf.length, offset);
    offset += bytesRead;
    const lines = (partial + buf.toString('utf8', 0, bytesRead)).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) handOn(line);
  }

  function handOn(line: string): void {
    if (line.trim() === '') return;
    let entry: AuditEntry;
    try {
      entry = JSON.parse(line) as AuditEntry;
    } catch {
      o.log.warn({ line: line.slice(0, 300) }, 'unreadable audit line skipped');
      return;
    }
    try {
      o.onEntry(entry);
    } catch (err) {
      o.log.error({ err }, 'audit entry could not be handed on');
    }
  }

  /**
   * The rotated files newer than the file `ino`, oldest first: file.(k-1) … file.1 when it is now
   * file.k. None when it is file.1 (one rotation) or gone: replaced by hand, or rotated out (more than
   * AUDIT_KEEP_FILES rotations since the last read, which would take gigabytes a second). Every one
   * when `ino` is undefined (there was no rotated file when the feed started).
   */
  async function rotatedSince(ino: number | undefined): Promise<string[]> {
    const newer: string[] = [];
    for (let n = 1; ; n += 1) {
      const name = rotatedFileOf(o.file, n);
      const at = await inodeOf(name);
      if (at === undefined) break;
      if (at === ino) return newer;
      newer.unshift(name);
    }
    if (ino === undefined) return newer;
    if (newer.length > 0) o.log.warn({ file: o.file }, 'the audit file the feed was reading is no longer among the rotated files; reading on from the current one');
    return [];
  }

  /** Reads the rotated files newer than the file `since`, then moves on to the current file, from its start. */
  async function moveOn(since: number | undefined): Promise<void> {
    for (const name of await rotatedSince(since)) {
      await hold(await openIfThere(name));
      await readHeld();
    }
    await hold(await openIfThere(o.file));
    await readHeld();
  }

  async function read(): Promise<void> {
    // Which file the name points at now, before reading the held one to its end: a line appended
    // before a rotation is in the held file, one after it in the new file.
    const current = await inodeOf(o.file);
    if (!held) {
      // No file at start: everything written since is new, also what a rotation has moved meanwhile.
      if (current !== undefined) await moveOn(historyIno);
      return;
    }
    await readHeld();
    if (current !== undefined && current !== held.ino) await moveOn(held.ino);
  }

  const poll = (): Promise<void> => {
    reading ??= read()
      .catch((err: unknown) => o.log.warn({ err }, 'audit log could not be read'))
      .finally(() => {
        reading = undefined;
      });
    return reading;
  };

  return {
    async start() {
      try {
        held = await openIfThere(o.file);
        offset = held ? (await held.fh.stat()).size : 0;
        if (!held) historyIno = await inodeOf(rotatedFileOf(o.file, 1));
      } catch (err) {
        o.log.warn({ err }, 'audit log could not be opened; following it from the start once it can');
      }
      timer = setInterval(() => void poll(), o.pollMs ?? 500);
      timer.unref();
    },
    poll,
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      // After the read under way, if any: it still uses the file.
      void (reading ?? Promise.resolve())
        .then(() => held?.fh.close())
        .catch(() => undefined)
        .finally(() => {
          held = undefined;
        });
    },
  };
}
