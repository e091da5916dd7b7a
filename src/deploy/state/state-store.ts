import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BluegreenError } from '../../errors.js';
import { writeFileAtomic } from '../../files.js';
import type { Logger } from '../../log.js';
import type { Pool } from '../../pool.js';
import type { Actor } from '../../shared/actor.js';
import type { AuditEntry } from '../../shared/audit-entry.js';
import type { ChaosKind } from '../../shared/chaos-kind.js';
import type { MaintenanceState } from '../../shared/maintenance-state.js';
import { appendWithRotation, readWithRotated, type RotationLimits } from './append-with-rotation.js';
import { RefusalLimiter } from './refusal-limiter.js';

// What the deploy layer remembers across restarts of the bot and of nginx, on the bot's volume.
// The active pool is NOT here: nginx's flag files are the truth (nginx-control.ts).

export interface SwitchRecord {
  kind: 'switch' | 'rollback' | 'failover' | 'guard_rollback';
  from: Pool;
  to: Pool;
  at: string;
  by: Actor;
  reason?: string;
}

/** A fault `chaos start` made, until the bot undoes it (chaos stop, or its time is up). */
export interface ChaosRecord {
  kind: ChaosKind;
  since: string;
  until: string;
  by: Actor;
  /** The containers a Docker-level fault acted on (ids), to undo it on exactly those. */
  containers: string[];
  /** Network faults: the helper containers that hold them (stopping one removes its fault). */
  helpers?: string[];
  /** delay: ms; loss: percent. */
  amount?: number;
}

export interface DeployState {
  /** The pool that was active before the last switch: where "Roll back" goes. */
  previousPool: Pool | undefined;
  lastSwitch: SwitchRecord | undefined;
  lastFailover: SwitchRecord | undefined;
  maintenance: MaintenanceState;
  /** Last image and release deployed to each pool through `deploy`. */
  releases: Partial<Record<Pool, { image: string; releaseId: string | undefined; at: string; by: Actor }>>;
  /** Faults under way, per pool. */
  chaos: Partial<Record<Pool, ChaosRecord>>;
}

export const emptyState = (): DeployState => ({
  previousPool: undefined,
  lastSwitch: undefined,
  lastFailover: undefined,
  maintenance: { on: false, since: undefined, until: undefined, by: undefined, reason: undefined, page: false },
  releases: {},
  chaos: {},
});

export interface StateStore {
  read(): Promise<DeployState>;
  /** Read, change, write atomically; the caller holds the operation lock when it matters. */
  update(change: (s: DeployState) => DeployState | void): Promise<DeployState>;
  /** Appends to audit.jsonl; a refusal past the per-actor rate limit is counted for a summary line instead. */
  audit(entry: AuditEntry): Promise<void>;
  /** The audit log with its rotated files, oldest first. */
  readAudit(): Promise<AuditEntry[]>;
  /** Writes the summaries of refusals the rate limit still holds (shutdown). */
  close(): Promise<void>;
}

export interface StateStoreOptions {
  /** Rotate audit.jsonl at a size (none: it grows without bound; tests). */
  auditRotation?: RotationLimits;
  /** Rate-limit refusals per actor (none: every refusal is written; tests). */
  refusals?: { perWindow: number; windowMs: number; log: Logger };
}

/** The audit log every operation appends to, from the bot and from the CLI alike. */
export const auditFileOf = (dir: string): string => join(dir, 'audit.jsonl');

export function createStateStore(dir: string, opts: StateStoreOptions = {}): StateStore {
  const file = join(dir, 'state.json');
  const auditFile = auditFileOf(dir);
  let chain: Promise<unknown> = Promise.resolve();
  // Lines of this process are appended one at a time, in the order audit() was called.
  let appending: Promise<unknown> = Promise.resolve();
  const io = (what: string, err: unknown) =>
    new BluegreenError('STATE_IO', `cannot ${what} in ${dir}`, { hint: 'is the bot_state volume mounted and writable?', cause: err });

  async function read(): Promise<DeployState> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
      throw io('read state.json', err);
    }
    try {
      const saved = JSON.parse(text) as Partial<DeployState>;
      const empty = emptyState();
      // Files written before reason/page existed lack them: fill them in.
      return { ...empty, ...saved, maintenance: { ...empty.maintenance, ...saved.maintenance, page: saved.maintenance?.page === true } };
    } catch {
      // A torn file cannot happen with rename, but a hand edit can: start clean rather than crash.
      return emptyState();
    }
  }

  async function write(state: DeployState): Promise<void> {
    try {
      await writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`);
    } catch (err) {
      throw io('write state.json', err);
    }
  }

  function append(entry: AuditEntry): Promise<void> {
    const line = `${JSON.stringify(entry)}\n`;
    const next = appending.then(async () => {
      try {
        await mkdir(dir, { recursive: true });
        if (opts.auditRotation) await appendWithRotation(auditFile, line, opts.auditRotation);
        else await appendFile(auditFile, line);
      } catch (err) {
        throw io('append to audit.jsonl', err);
      }
    });
    appending = next.catch(() => undefined);
    return next;
  }

  const refusals = opts.refusals && new RefusalLimiter({ ...opts.refusals, write: append });

  return {
    read,
    update(change) {
      // Serialize read-modify-write inside this process.
      const next = chain.then(async () => {
        const s = await read();
        const out = change(s) ?? s;
        await write(out);
        return out;
      });
      chain = next.catch(() => undefined);
      return next;
    },
    async audit(entry) {
      if (refusals && !refusals.admit(entry)) return;
      await append(entry);
    },
    async readAudit() {
      let text: string;
      try {
        text = await readWithRotated(auditFile);
      } catch (err) {
        throw io('read audit.jsonl', err);
      }
      return text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as AuditEntry);
    },
    async close() {
      await refusals?.close();
      await appending;
    },
  };
}
