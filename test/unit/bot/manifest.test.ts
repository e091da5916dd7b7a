import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { SLASH_COMMAND } from '../../../src/bot/ids.js';
import { SLACK_EVENTS_PATH } from '../../../src/bot/slack-bot.js';
import { COMMAND_NAMES } from '../../../src/commands/parse-command.js';

interface Manifest {
  display_information: { name: string };
  features: { bot_user: { display_name: string }; slash_commands: { command: string; url: string; description: string; usage_hint?: string }[] };
  oauth_config: { scopes: { bot: string[] } };
  settings: { interactivity: { is_enabled: boolean; request_url: string }; socket_mode_enabled: boolean };
}

describe('slack-manifest.yaml', () => {
  const manifest = parse(readFileSync(new URL('../../../slack-manifest.yaml', import.meta.url), 'utf8')) as Manifest;

  it('asks for exactly the bot scopes the bot uses', () => {
    assert.deepEqual([...manifest.oauth_config.scopes.bot].sort(), ['chat:write', 'chat:write.public', 'commands', 'usergroups:read']);
  });

  it('registers the slash command the bot listens to, with a short description', () => {
    const cmds = manifest.features.slash_commands;
    assert.equal(cmds.length, 1);
    assert.equal(cmds[0]?.command, SLASH_COMMAND);
    assert.ok((cmds[0]?.description.length ?? 0) <= 100, 'Slack caps descriptions at 100 characters');
    assert.ok((cmds[0]?.usage_hint?.length ?? 0) <= 100, 'Slack caps usage hints at 100 characters');
  });

  it('the usage hint names real commands, scale among them', () => {
    const hint = manifest.features.slash_commands[0]?.usage_hint ?? '';
    const heads = hint.split(' | ').map((part) => part.split(' ')[0]);
    assert.ok(heads.includes('scale'), hint);
    for (const head of heads) assert.ok((COMMAND_NAMES as string[]).includes(head ?? ''), `${head} in the usage hint is not a command`);
  });

  it('turns on interactivity and Socket Mode; HTTP URLs point at the events path', () => {
    assert.equal(manifest.settings.interactivity.is_enabled, true);
    assert.equal(manifest.settings.socket_mode_enabled, true);
    for (const u of [manifest.settings.interactivity.request_url, manifest.features.slash_commands[0]?.url]) {
      assert.equal(new URL(String(u)).pathname, SLACK_EVENTS_PATH);
    }
    assert.ok(manifest.display_information.name.length <= 35);
    assert.ok(manifest.features.bot_user.display_name.length <= 80);
  });
});
