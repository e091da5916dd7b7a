import { join } from 'node:path';
import { parseCommand, USAGE } from '../commands/parse-command.js';
import { runCommand } from '../commands/run-command.js';
import { metricsUrl, slackMode, type Config } from '../config.js';
import { drillProbe, runDrill } from '../deploy/use-cases/drill.js';
import type { Operations } from '../deploy/operations.js';
import type { StateStore } from '../deploy/state/state-store.js';
import type { HttpServer } from '../http-server.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { fileIncidentStore } from './incident-store.js';
import { createSlackBot, type SlackBot } from './slack-bot.js';
import type { NotifierFacts } from './slack-notifier.js';
import { statusViewOf } from './status-view.js';

/**
 * The Slack surface on top of the real grammar, runner and deploy operations; undefined when no
 * bot token is set (then alerts go to the log, or the webhook notifier, and the CLI still works).
 */
export function createSlackSurface(d: {
  config: Config;
  log: Logger;
  http: HttpServer;
  ops: Operations;
  store: StateStore;
  metrics?: Metrics;
  facts?: () => NotifierFacts;
}): SlackBot | undefined {
  const mode = slackMode(d.config);
  if (mode !== 'http' && mode !== 'socket') return undefined;
  return createSlackBot({
    config: d.config,
    log: d.log,
    http: d.http,
    ...(d.metrics ? { metrics: d.metrics } : {}),
    ...(d.facts ? { facts: d.facts } : {}),
    incidentStore: fileIncidentStore(join(d.config.STATE_DIR, 'slack-incidents.json')),
    deps: {
      parse: parseCommand,
      usage: USAGE,
      runner: {
        run: (cmd, actor, progress) =>
          runCommand(cmd, {
            ops: d.ops,
            by: actor,
            progress,
            // The drill reads the alerts this same process raises from its own /metrics.
            drill: (p) =>
              runDrill({ ops: d.ops, by: actor, nginxUrl: d.config.NGINX_URL, probe: drillProbe(d.config), metricsUrl: metricsUrl(d.config, '/metrics'), progress: p }),
          }),
      },
      status: async () => {
        const r = await d.ops.status();
        return r.status === 'ok' && r.data ? { status: 'ok', message: r.message, data: statusViewOf(r.data) } : r.status === 'ok' ? { status: 'failed', message: 'status returned no data' } : r;
      },
      // Operations audit what they run; the Slack layer adds what it refused before anything ran.
      audit: async (e) => {
        if (e.stage !== 'authorize') return;
        await d.store.audit({ at: e.at, by: e.actor, op: e.command.split(' ')[0] ?? e.command, args: { ...e.args, via: e.source, channel: e.channel }, result: e.result, message: `refused by Slack authorization: ${e.message}`, durationMs: e.durationMs });
      },
    },
  });
}
