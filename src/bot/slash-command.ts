import type { App } from '@slack/bolt';
import { isMutating } from '../commands/command.js';
import type { Actor } from '../shared/actor.js';
import { buildHelpMessage, buildUsageMessage } from './blocks/help.js';
import { buildStatusMessage } from './blocks/status.js';
import { formatCommand } from './format-command.js';
import { SLASH_COMMAND } from './ids.js';
import { helpEntries } from './ports.js';
import { RespondProgress, type RespondFn } from './respond-progress.js';
import { audit, resultMessage, type Surface } from './surface.js';

/**
 * /bluegreen: a parse error is answered in the ack itself (pure, instant); everything else is
 * acknowledged empty first and answered through response_url, because authorization may need a
 * usergroups lookup and operations take seconds.
 */
export function registerSlashCommand(app: App, s: Surface): void {
  app.command(SLASH_COMMAND, async ({ command, ack, respond }) => {
    const startedAt = s.now();
    // Slack omits `text` when nothing follows the command; Bolt passes the field through as is.
    const parsed = s.deps.parse(typeof command.text === 'string' ? command.text : '');
    if ('error' in parsed) {
      const m = buildUsageMessage(parsed.error, parsed.usage);
      await ack({ response_type: 'ephemeral', text: m.text, blocks: m.blocks });
      return;
    }
    await ack();
    const reply = respond as unknown as RespondFn;
    const cmd = parsed.ok;
    const actor: Actor = { kind: 'slack', id: command.user_id, name: command.user_name };
    const log = s.log.child({ command: formatCommand(cmd), user: command.user_id, channel: command.channel_id });
    const mutating = isMutating(cmd);
    const decision = await s.authz.check(command.user_id, command.channel_id, mutating);
    if (!decision.allowed) {
      log.warn({ reason: decision.reason }, 'command refused');
      await reply({ response_type: 'ephemeral', text: `:no_entry: ${decision.reason}` });
      await audit(s, { actor, source: 'slash_command', cmd, result: 'refused', message: decision.reason, startedAt, channel: command.channel_id, stage: 'authorize' });
      return;
    }
    if (cmd.name === 'help') {
      const { admin } = await s.authz.isAdmin(command.user_id);
      const m = buildHelpMessage(helpEntries(s.deps.usage), admin);
      await reply({ response_type: 'ephemeral', ...m });
      return;
    }
    if (cmd.name === 'status') {
      const r = await s.deps.status();
      if (r.status === 'ok' && r.data) await reply({ response_type: 'ephemeral', ...buildStatusMessage(r.data) });
      else await reply({ response_type: 'ephemeral', text: `:x: status: ${resultMessage(r)}` });
      return;
    }
    const progress = new RespondProgress(reply, formatCommand(cmd), command.user_id, {
      now: s.now,
      onError: (err) => log.warn({ err }, 'progress update failed'),
    });
    await progress.start();
    log.info('command started');
    const result = await s.deps.runner.run(cmd, actor, (step) => progress.step(step));
    log.info({ result: result.status }, 'command finished');
    await progress.finish(result, s.now() - startedAt);
    await audit(s, { actor, source: 'slash_command', cmd, result: result.status, message: resultMessage(result), startedAt, channel: command.channel_id, stage: 'run' });
  });
}
