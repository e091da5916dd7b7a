import type { AddressInfo } from 'node:net';
import type { Config } from './config.js';
import { createDeployLayer, type DeployLayer } from './deploy/create-deploy-layer.js';
import { HttpServer, sendJson } from './http-server.js';
import type { Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { mountMetricsRoute } from './metrics-route.js';
import { createSlackSurface } from './bot/create-slack-surface.js';
import { createStateStore } from './deploy/state-store.js';
import type { AlertEvent, Notifier } from './watcher/alert.js';

export interface AppDeps {
  config: Config;
  log: Logger;
  /** Deploy control; built from config when not given. */
  deploy?: DeployLayer;
  /** The one metrics registry every component writes to and GET /metrics serves; created when not given. */
  metrics?: Metrics;
}

export interface App {
  start(): Promise<AddressInfo>;
  stop(): Promise<void>;
}

/**
 * Builds the whole bot from config and injected parts, without touching signals or process state,
 * so tests can build it with fakes or real parts. src/main.ts owns the process.
 */
export function createApp({ config, log, deploy: injectedDeploy, metrics: injectedMetrics }: AppDeps): App {
  const http = new HttpServer(log.child({ component: 'http' }));
  const metrics = injectedMetrics ?? createMetrics();
  mountMetricsRoute(http, metrics);
  // Building it touches no socket: a missing Docker socket surfaces at the first operation and in
  // status, and the bot keeps running.
  // Alerts deploy control raises (auto-demote, post-switch guard, maintenance expiry) go to every
  // notifier; the log keeps them when there is none.
  const alertSinks: Notifier[] = [];
  const raise = async (alert: AlertEvent) => {
    if (alertSinks.length === 0) log.warn({ alert }, alert.title);
    await Promise.all(alertSinks.map((n) => n.notify(alert)));
  };
  const deploy = injectedDeploy ?? createDeployLayer({ config, log, metrics, raise });
  // Slack (Bolt) only when a bot token is set; in HTTP mode it mounts POST /slack/events on `http`.
  const slack = createSlackSurface({ config, log, http, ops: deploy.ops, store: createStateStore(config.STATE_DIR), metrics });
  if (slack?.notifier) alertSinks.push(slack.notifier);
  const startedAt = Date.now();

  http.route('GET', '/healthz', (_req, res) => {
    sendJson(res, 200, { status: 'ok', uptimeSec: Math.round((Date.now() - startedAt) / 1000) });
  });

  return {
    async start() {
      const address = await http.listen(config.BOT_PORT, config.BOT_HOST);
      deploy.start();
      await slack?.start();
      log.info({ port: address.port, host: config.BOT_HOST }, 'bot listening');
      return address;
    },
    async stop() {
      await deploy.stop();
      await slack?.stop();
      await http.close();
      log.info('bot stopped');
    },
  };
}
