import type { Logger } from '../../log.js';
import type { Actor } from '../../shared/actor.js';
import { SUPPRESSED_REFUSALS, type AuditEntry } from '../../shared/audit-entry.js';

// A refusal costs the asker nothing (anyone in the workspace may type `/bluegreen switch green` in a
// loop; the chaos timer retries an undo that fails every second), yet each one is a line in
// audit.jsonl and a post in the channel. So, per actor, the first `perWindow` refusals of a window
// are written one by one; the rest are counted, and when the window ends one line says how many
// (and which ops), so nothing goes silently. Only refusals are held back: an operation that ran
// (ok or failed) is always written.

export interface RefusalLimiterOptions {
  /** Refusals of one actor written one by one per window. */
  perWindow: number;
  windowMs: number;
  /** Appends the window's summary line to the audit log. */
  write: (entry: AuditEntry) => Promise<void>;
  log: Logger;
  now?: () => number;
}

interface Window {
  by: Actor;
  startedAt: number;
  written: number;
  suppressed: number;
  /** Suppressed refusals by op. */
  ops: Record<string, number>;
  timer: NodeJS.Timeout;
}

export class RefusalLimiter {
  readonly #o: RefusalLimiterOptions;
  readonly #now: () => number;
  /** Open windows by actor; one ends (and is forgotten) windowMs after its first refusal. */
  readonly #windows = new Map<string, Window>();
  #closed = false;

  constructor(opts: RefusalLimiterOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** Whether to write this entry now; false: it is counted in its window's summary line instead. */
  admit(entry: AuditEntry): boolean {
    if (entry.result !== 'refused' || entry.op === SUPPRESSED_REFUSALS || this.#closed) return true;
    const key = `${entry.by.kind}:${entry.by.id}`;
    let w = this.#windows.get(key);
    if (!w) {
      const timer = setTimeout(() => void this.#end(key), this.#o.windowMs);
      // A CLI run that exits within the window has written at most one refusal: nothing to wait for.
      timer.unref();
      w = { by: entry.by, startedAt: this.#now(), written: 0, suppressed: 0, ops: {}, timer };
      this.#windows.set(key, w);
    }
    if (w.written < this.#o.perWindow) {
      w.written += 1;
      return true;
    }
    w.suppressed += 1;
    w.ops[entry.op] = (w.ops[entry.op] ?? 0) + 1;
    this.#o.log.debug({ by: entry.by, op: entry.op, reason: entry.message }, 'refusal not written one by one: over the rate limit');
    return false;
  }

  /** Ends every open window now, writing the summaries it holds (shutdown); later refusals are written as they come. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#windows.keys()].map((key) => this.#end(key)));
  }

  async #end(key: string): Promise<void> {
    const w = this.#windows.get(key);
    if (!w) return;
    this.#windows.delete(key);
    clearTimeout(w.timer);
    if (w.suppressed === 0) return;
    const now = this.#now();
    const who = w.by.name ?? w.by.id;
    const message = `${w.suppressed} more refusal${w.suppressed === 1 ? '' : 's'} from ${who} suppressed (the first ${this.#o.perWindow} of each ${span(this.#o.windowMs)} are written one by one)`;
    this.#o.log.warn({ by: w.by, suppressed: w.suppressed, ops: w.ops }, message);
    try {
      await this.#o.write({
        at: new Date(now).toISOString(),
        by: w.by,
        op: SUPPRESSED_REFUSALS,
        args: { count: w.suppressed, since: new Date(w.startedAt).toISOString(), ops: w.ops, limit: this.#o.perWindow, windowMs: this.#o.windowMs },
        result: 'refused',
        message,
        durationMs: now - w.startedAt,
      });
    } catch (err) {
      this.#o.log.error({ err, by: w.by, suppressed: w.suppressed }, 'the summary of suppressed refusals could not be written');
    }
  }
}

function span(ms: number): string {
  return ms === 60_000 ? 'minute' : `${Math.round(ms / 1000)} s`;
}
