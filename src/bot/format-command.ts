import type { Command } from '../commands/command.js';

/** A command as a person would type it, for audit lines and progress messages. */
export function formatCommand(cmd: Command): string {
  switch (cmd.name) {
    case 'switch':
      return `switch ${cmd.pool}${cmd.force ? ' --force' : ''}`;
    case 'maintenance':
      return cmd.on ? `maintenance on${cmd.durationMs === undefined ? '' : ` for ${Math.round(cmd.durationMs / 60_000)}m`}` : 'maintenance off';
    case 'chaos':
      return cmd.action === 'start' ? `chaos start ${cmd.pool} ${cmd.mode}${cmd.force ? ' --force' : ''}` : `chaos stop ${cmd.pool}`;
    case 'deploy':
      return `deploy ${cmd.pool} ${cmd.image}${cmd.releaseId ? ` ${cmd.releaseId}` : ''}`;
    default:
      return cmd.name;
  }
}

/** The arguments of a command without its name, for the audit entry. */
export function commandArgs(cmd: Command): Record<string, unknown> {
  const { name: _name, ...args } = cmd;
  return args;
}
