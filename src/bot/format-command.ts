import type { Command } from '../commands/command.js';
import { formatDuration } from '../commands/parse-command.js';

/** A command as a person would type it, for audit lines and progress messages. */
export function formatCommand(cmd: Command): string {
  switch (cmd.name) {
    case 'switch':
      return `switch ${cmd.pool}${cmd.force ? ' --force' : ''}`;
    case 'maintenance':
      if ('show' in cmd) return 'maintenance';
      if ('extendMs' in cmd) return `maintenance extend ${formatDuration(cmd.extendMs)}`;
      if (!cmd.on) return 'maintenance off';
      return `maintenance on${cmd.durationMs === undefined ? '' : ` for ${formatDuration(cmd.durationMs)}`}${cmd.page ? ' --page' : ''}${cmd.reason ? ` ${cmd.reason}` : ''}`;
    case 'chaos':
      return cmd.action === 'start' ? `chaos start ${cmd.pool} ${cmd.mode}${cmd.force ? ' --force' : ''}` : `chaos stop ${cmd.pool}`;
    case 'deploy':
      return `deploy ${cmd.pool} ${cmd.image}${cmd.releaseId ? ` ${cmd.releaseId}` : ''}`;
    case 'scale':
      return `scale ${cmd.pool} ${cmd.replicas}${cmd.force ? ' --force' : ''}`;
    default:
      return cmd.name;
  }
}

/** The arguments of a command without its name, for the audit entry. */
export function commandArgs(cmd: Command): Record<string, unknown> {
  const { name: _name, ...args } = cmd;
  return args;
}
