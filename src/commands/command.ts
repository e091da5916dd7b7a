import type { Pool } from '../pool.js';
import type { ChaosKind } from '../shared/chaos-kind.js';

/** A parsed `/bluegreen …` or `bluegreen …` command (shared/SPEC.md grammar). */
export type Command =
  | { name: 'help' }
  | { name: 'status' }
  | { name: 'switch'; pool: Pool; force: boolean }
  /** `to`: the pool a "Roll back to <pool>" button promised; refused if the last switch leads elsewhere. */
  | { name: 'rollback'; to?: Pool }
  | MaintenanceCommand
  /** `amount`: delay in ms, loss in percent; `durationMs`: `for 30s` (the bot's default when absent). */
  | { name: 'chaos'; action: 'start'; pool: Pool; mode: ChaosKind; amount?: number; durationMs?: number; force: boolean }
  | { name: 'chaos'; action: 'stop'; pool: Pool }
  | { name: 'deploy'; pool: Pool; image: string; releaseId: string | undefined }
  /** Swarm mode: the pool's replicas (0..MAX_REPLICAS); Compose mode refuses it. */
  | { name: 'scale'; pool: Pool; replicas: number; force: boolean }
  | { name: 'drill' };

/**
 * `maintenance on [for 30m] [--page] [reason…]` · `maintenance extend 30m` · `maintenance off` ·
 * `maintenance` (show). `page` and `reason` are optional so `{name, on: true, durationMs}` (quiet
 * mode, as buttons build it) stays a whole command.
 */
export type MaintenanceCommand =
  | { name: 'maintenance'; on: true; durationMs: number | undefined; page?: boolean; reason?: string | undefined }
  | { name: 'maintenance'; on: false }
  | { name: 'maintenance'; extendMs: number }
  | { name: 'maintenance'; show: true };

export type CommandName = Command['name'];

/** Commands that change the running system; only admins may run them. */
export function isMutating(cmd: Command): boolean {
  if (cmd.name === 'maintenance') return !('show' in cmd);
  return cmd.name !== 'help' && cmd.name !== 'status';
}
