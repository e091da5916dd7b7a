import type { Pool } from '../pool.js';

/** A parsed `/bluegreen …` or `bluegreen …` command (shared/SPEC.md grammar). */
export type Command =
  | { name: 'help' }
  | { name: 'status' }
  | { name: 'switch'; pool: Pool; force: boolean }
  /** `to`: the pool a "Roll back to <pool>" button promised; refused if the last switch leads elsewhere. */
  | { name: 'rollback'; to?: Pool }
  | { name: 'maintenance'; on: true; durationMs: number | undefined }
  | { name: 'maintenance'; on: false }
  | { name: 'chaos'; action: 'start'; pool: Pool; mode: 'error' | 'timeout'; force: boolean }
  | { name: 'chaos'; action: 'stop'; pool: Pool }
  | { name: 'deploy'; pool: Pool; image: string; releaseId: string | undefined }
  | { name: 'drill' };

export type CommandName = Command['name'];

/** Commands that change the running system; only admins may run them. */
export function isMutating(cmd: Command): boolean {
  return cmd.name !== 'help' && cmd.name !== 'status';
}
