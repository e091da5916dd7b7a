import type { Actor } from './actor.js';

/**
 * Maintenance as commands left it. `on` is quiet mode (non-critical alerts held back); `page` is
 * the maintenance page on top of it (nginx's flag file, nginx-control.ts). Off: every field but
 * `by` (who ended it, or undefined when nobody ever started one) is cleared.
 */
export interface MaintenanceState {
  on: boolean;
  since: string | undefined;
  until: string | undefined;
  by: Actor | undefined;
  /** Why, as the operator typed it. */
  reason: string | undefined;
  page: boolean;
}
