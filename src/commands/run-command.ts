import type { Operations } from '../deploy/operations.js';
import { ok, type OpResult } from '../shared/op-result.js';
import type { Actor } from '../shared/actor.js';
import { isMutating, type Command } from './command.js';
import { usageOf } from './parse-command.js';
import type { Progress } from '../shared/progress.js';

// The one runner: a parsed command to a deploy operation. Slack and the CLI call this and render
// the OpResult their own way. Authorization is the caller's job (the Slack layer checks admins).

export interface RunDeps {
  ops: Operations;
  by: Actor;
  /** `drill` lives in src/deploy/drill.ts and needs more than `ops`; absent, the runner says so. */
  drill?: (progress: Progress) => Promise<OpResult<unknown>>;
  /** A line per step of long operations; the start and end of every change otherwise. */
  progress?: Progress;
}

export function helpText(): string {
  return `Usage: bluegreen <command>\n${usageOf()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')}`;
}

export async function runCommand(cmd: Command, deps: RunDeps): Promise<OpResult<unknown>> {
  if (!deps.progress || cmd.name === 'drill' || !isMutating(cmd)) return run(cmd, deps);
  const say = deps.progress;
  say(`${cmd.name}: started`);
  const result = await run(cmd, deps);
  say(`${cmd.name}: ${result.status}`);
  return result;
}

async function run(cmd: Command, { ops, by, drill, progress }: RunDeps): Promise<OpResult<unknown>> {
  switch (cmd.name) {
    case 'help':
      return ok(helpText());
    case 'status':
      return ops.status();
    case 'switch':
      return ops.switchPool(cmd.pool, { force: cmd.force, by, ...(progress ? { progress } : {}) });
    case 'rollback':
      return ops.rollback(by, { ...(progress ? { progress } : {}), ...(cmd.to ? { expect: cmd.to } : {}) });
    case 'maintenance':
      if ('show' in cmd) return ops.showMaintenance();
      if ('extendMs' in cmd) return ops.extendMaintenance(cmd.extendMs, { by });
      return cmd.on
        ? ops.setMaintenance(true, { by, durationMs: cmd.durationMs, page: cmd.page, reason: cmd.reason })
        : ops.setMaintenance(false, { by });
    case 'chaos':
      return cmd.action === 'start'
        ? ops.startChaos(cmd.pool, cmd.mode, { force: cmd.force, by, durationMs: cmd.durationMs, amount: cmd.amount })
        : ops.stopChaos(cmd.pool, by);
    case 'deploy':
      return ops.deploy(cmd.pool, cmd.image, { releaseId: cmd.releaseId, by, ...(progress ? { progress } : {}) });
    case 'scale':
      return ops.scale(cmd.pool, cmd.replicas, { force: cmd.force, by, ...(progress ? { progress } : {}) });
    case 'drill':
      if (drill) return drill(progress ?? (() => undefined));
      return { status: 'failed', message: 'drill is not available in this build' };
  }
}
