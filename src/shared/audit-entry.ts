import type { Pool } from '../pool.js';
import type { Actor } from './actor.js';
import type { MaintenanceState } from './maintenance-state.js';

// One line of STATE_DIR/audit.jsonl: every operation, from the bot or the CLI, appends one (deploy's
// state store writes them); the Slack surface reads them back to post each change in the channel.

/** One operation as the audit log keeps it. */
export interface AuditEntry {
  at: string;
  by: Actor;
  op: string;
  args: Record<string, unknown>;
  result: 'ok' | 'refused' | 'failed';
  message: string;
  durationMs: number;
  /** A switch that moved traffic (switch, rollback, failover, guard_rollback): what the channel's switch message shows. */
  switch?: { from: Pool; to: Pool; ms: number; release: string | undefined };
  /** Maintenance as an on, extend or off left it: what the channel's announcement shows. */
  maintenance?: MaintenanceState;
}

/**
 * The op of the line that stands for refusals the audit log did not write one by one (past the
 * per-actor rate limit): `args.count` of them from `by` since `args.since`, by op in `args.ops`.
 */
export const SUPPRESSED_REFUSALS = 'refusals_suppressed';
