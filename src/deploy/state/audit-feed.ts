import { open, stat } from 'node:fs/promises';
import type { Logger } from '../../log.js';
import type { AuditEntry } from '../../shared/audit-entry.js';

// Every operation appends one line to STATE_DIR/audit.jsonl, whichever process ran it: the bot, a
// `bluegreen` CLI run with `docker compose exec`, the bot's own auto-demote and guard. The bot follows
// the file so each of them reaches the alert channel once, in order (the CLI process has no Slack).

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

export function createAuditFeed(o: AuditFeedOptions): AuditFeed {
  let offset = 0;
  let partial = '';
  let timer: NodeJS.Timeout | undefined;
  let reading: Promise<void> | undefined;

  async function size(): Promise<number> {
    try {
      return (await stat(o.file)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
  }

  async function read(): Promise<void> {
    const end = await size();
    if (end < offset) {
      // Cut or replaced by hand: read it again from the start.
      offset = 0;
      partial = '';
    }
    if (end === offset) return;
    const fh = await open(o.file, 'r');
    try {
      const buf = Buffer.alloc(end - offset);
      const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
      offset += bytesRead;
      const lines = (partial + buf.toString('utf8', 0, bytesRead)).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        let entry: AuditEntry;
        try {
          entry = JSON.parse(line) as AuditEntry;
        } catch {
          o.log.warn({ line: line.slice(0, 300) }, 'unreadable audit line skipped');
          continue;
        }
        try {
          o.onEntry(entry);
        } catch (err) {
          o.log.error({ err }, 'audit entry could not be handed on');
        }
      }
    } finally {
      await fh.close();
    }
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
      offset = await size().catch(() => 0);
      timer = setInterval(() => void poll(), o.pollMs ?? 500);
      timer.unref();
    },
    poll,
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
