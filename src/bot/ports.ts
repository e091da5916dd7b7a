import type { Command, CommandName } from '../commands/command.js';
import type { Actor } from '../shared/actor.js';
import type { Progress } from '../shared/progress.js';
import type { OpResult } from '../shared/op-result.js';
import type { AuditEntry } from './blocks/audit.js';
import type { HelpEntry } from './blocks/help.js';
import type { StatusView } from './blocks/status.js';

// What the Slack surface needs from the rest of the bot, as small interfaces it owns. app.ts
// passes the real grammar, runner, status and audit log; unit tests pass small fakes.

export type ParseCommand = (text: string) => { ok: Command } | { error: string; usage: string };

export interface CommandRunner {
  run(cmd: Command, actor: Actor, progress: Progress): Promise<OpResult<unknown>>;
}

/** Status can fail (Docker socket gone): the failure is shown to the person who asked. */
export type StatusSource = () => Promise<OpResult<StatusView>>;

export type Audit = (entry: AuditEntry) => void | Promise<void>;

export interface BotDeps {
  parse: ParseCommand;
  runner: CommandRunner;
  status: StatusSource;
  audit: Audit;
  /** The grammar's usage lines, for `help`. */
  usage: Readonly<Record<CommandName, string>>;
}

const READ_ONLY: ReadonlySet<CommandName> = new Set(['help', 'status']);

export function helpEntries(usage: Readonly<Record<CommandName, string>>): HelpEntry[] {
  return (Object.keys(usage) as CommandName[]).map((name) => ({ usage: usage[name], mutating: !READ_ONLY.has(name) }));
}
