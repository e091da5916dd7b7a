import type { AddressInfo } from 'node:net';
import { slackMode, type Config } from './config.js';
import { createClusterWatch } from './deploy/swarm/cluster-watch.js';
import type { ClusterSnapshot } from './deploy/swarm/cluster.js';
import { createDeployLayer, type DeployLayer } from './deploy/create-deploy-layer.js';
import { HttpServer, sendJson } from './http-server.js';
import type { Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { mountMetricsRoute } from './metrics-route.js';
import { createSlackSurface } from './bot/create-slack-surface.js';
import { createAuditFeed } from './deploy/state/audit-feed.js';
import { auditFileOf } from './deploy/state/state-store.js';
import type { NotifierFacts } from './bot/slack-notifier.js';
import type { AlertEvent, Notifier } from './shared/alert.js';
import { createLogNotifier } from './bot/log-notifier.js';
import { Watcher } from './watcher/watcher.js';
import { WebhookNotifier } from './bot/webhook-notifier.js';

export interface AppDeps {
  config: Config;
  log: Logger;
  /** Deploy control; built from config when not given. */
  deploy?: DeployLayer;
  /** The one metrics registry every component writes to and GET /metrics serves; created when not given. */
  metrics?: Metrics;
  /** The access-log watcher; built from config when not given. */
  watcher?: Watcher;
}

export interface App {
  /** Where each listener ended up (port 0 picks one). */
  start(): Promise<{ bot: AddressInfo; metrics: AddressInfo }>;
  stop(): Promise<void>;
}

/**
 * Builds the whole bot from config and injected parts, without touching signals or process state,
 * so tests can build it with fakes or real parts. src/main.ts owns the process.
 */
export function createApp({ config, log, deploy: injectedDeploy, metrics: injectedMetrics, watcher: injectedWatcher }: AppDeps): App {
  // Two listeners: the public one (BOT_PORT: /healthz and Slack's /slack/events) and the metrics one
  // (METRICS_PORT, on 127.0.0.1 unless told: /metrics, /pool-stats), so what the bot knows is not
  // served to whoever reaches the public port or shares the Docker network.
  const http = new HttpServer(log.child({ component: 'http' }));
  const metricsHttp = new HttpServer(log.child({ component: 'metrics-http' }));
  const metrics = injectedMetrics ?? createMetrics();
  mountMetricsRoute(metricsHttp, metrics);
  // Building it touches no socket: a missing Docker socket surfaces at the first operation and in
  // status, and the bot keeps running.
  // One alert pipeline: what deploy control raises (auto-demote, post-switch guard, maintenance
  // expiry) goes through the watcher's alert policy (incidents, cooldown, maintenance) to the same
  // notifiers as the watcher's own alerts.
  const alertSinks: Notifier[] = [];
  const raise = (alert: AlertEvent) => {
    if (!watcher) throw new Error('an alert was raised before the watcher was built');
    watcher.raise(alert);
  };
  // The watcher and deploy control need each other (pool figures one way, active pool, chaos and
  // maintenance the other): bound late, through these arrows.
  let watcher: Watcher | undefined = injectedWatcher;
  // Swarm mode: nodes down, pools short of tasks and Swarm's own rollbacks, from the deploy layer's
  // cluster snapshots, into the same pipeline. Observed only once the watcher has restored the open
  // incidents, so a restart takes over an incident instead of paging it again.
  const cluster = createClusterWatch({
    get envName() {
      return deploy.envName();
    },
    raise,
    graceMs: config.CLUSTER_ALERT_GRACE_SEC * 1000,
    activePool: () => deploy.view().activePool,
  });
  let clusterRestored = false;
  let watcherStarted = false;
  const onClusterSnapshot = (snapshot: ClusterSnapshot) => {
    if (!watcherStarted || !watcher) return;
    if (!clusterRestored) cluster.restore(watcher.snapshot().openIncidents);
    clusterRestored = true;
    cluster.observe(snapshot);
  };
  const deploy =
    injectedDeploy ??
    createDeployLayer({
      config,
      log,
      metrics,
      raise,
      poolStats: (pool) => watcher?.poolStats(pool),
      attempts: (pool) => watcher?.attemptCounts(pool),
      onClusterSnapshot,
    });
  // Slack (Bolt) only when a bot token is set; in HTTP mode it mounts POST /slack/events on `http`.
  // Buttons fit what deploy control knows now: health, chaos, the post-switch guard.
  const facts = (): NotifierFacts => {
    const view = deploy.view();
    const health = deploy.health.snapshot();
    const guard = deploy.guard.watching();
    return {
      chaos: (pool) => view.chaos(pool),
      health: (pool) => {
        const last = health.find((h) => h.pool === pool)?.last;
        return last ? { healthy: last.healthy, detail: last.detail } : undefined;
      },
      guard: guard ? { pool: guard.pool, from: guard.from } : undefined,
      active: () => view.activePool,
    };
  };
  const slack = createSlackSurface({ config, log, http, ops: deploy.ops, store: deploy.store, metrics, facts });
  // Every operation, from this process or the CLI, reaches the channel from the audit log, once.
  const notifier = slack?.notifier;
  const auditFeed = notifier ? createAuditFeed({ file: auditFileOf(config.STATE_DIR), onEntry: (e) => notifier.audit(e), log: log.child({ component: 'audit-feed' }) }) : undefined;
  if (notifier) alertSinks.push(notifier);
  const webhook =
    slackMode(config) === 'webhook' && config.SLACK_WEBHOOK_URL
      ? new WebhookNotifier({ url: config.SLACK_WEBHOOK_URL, log: log.child({ component: 'webhook' }), metrics, maxQueued: config.OUTBOX_MAX })
      : undefined;
  if (webhook) alertSinks.push(webhook);
  watcher ??= new Watcher({
    config,
    log,
    metrics,
    notifiers: [createLogNotifier(log.child({ component: 'alerts' })), ...alertSinks],
    getActivePool: () => deploy.view().activePool,
    isChaosOn: (pool) => deploy.view().chaos(pool),
    maintenance: () => deploy.view().maintenance,
    onUpstreamTrouble: (pool) => deploy.health.upstreamTrouble(pool),
    envName: () => deploy.envName(),
    onHeldBack: (held) => notifier?.heldBack(held),
  });
  const startedAt = Date.now();

  http.route('GET', '/healthz', (_req, res) => {
    sendJson(res, 200, { status: 'ok', uptimeSec: Math.round((Date.now() - startedAt) / 1000) });
  });
  // The watcher's per-pool figures for `bluegreen status` run from the CLI (a process of its own,
  // with no watcher): error rate, p95, retried requests.
  metricsHttp.route('GET', '/pool-stats', (_req, res) => {
    sendJson(res, 200, { blue: watcher.poolStats('blue'), green: watcher.poolStats('green') });
  });

  return {
    async start() {
      const address = await http.listen(config.BOT_PORT, config.BOT_HOST);
      const metricsAddress = await metricsHttp.listen(config.METRICS_PORT, config.METRICS_HOST);
      // Slack first: it reloads the saved incident messages, so the first alert or click after a
      // restart updates the message it belongs to. Then the audit feed, from the log's end, so what
      // deploy control does from its first moment (MAINTENANCE_MODE's first window) is announced.
      await slack?.start();
      await auditFeed?.start();
      deploy.start();
      await watcher.start();
      watcherStarted = true;
      log.info({ port: address.port, host: config.BOT_HOST, metricsPort: metricsAddress.port, metricsHost: config.METRICS_HOST }, 'bot listening');
      return { bot: address, metrics: metricsAddress };
    },
    async stop() {
      // The refusals the rate limit still counts are written first, so the feed's last read posts them.
      await deploy.store.close();
      await auditFeed?.poll();
      auditFeed?.stop();
      await watcher.stop();
      // Give queued alerts a moment to go out; the webhook may be down, so do not wait forever.
      if (webhook) await Promise.race([webhook.idle(), new Promise((r) => setTimeout(r, 5000).unref())]);
      await deploy.stop();
      await slack?.stop();
      await http.close();
      await metricsHttp.close();
      log.info('bot stopped');
    },
  };
}
