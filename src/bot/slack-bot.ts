import type { ServerResponse } from 'node:http';
import { App, HTTPReceiver, SocketModeReceiver, type Receiver } from '@slack/bolt';
import { slackMode, type Config } from '../config.js';
import type { HttpServer } from '../http-server.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { Authorizer } from './authorizer.js';
import { registerBlockActions } from './block-actions.js';
import { boltLogger } from './bolt-logger.js';
import { Dedupe } from './dedupe.js';
import type { IncidentStore } from './incident-store.js';
import { Outbox, type ApiCall, type OutboxOptions } from './outbox.js';
import type { BotDeps } from './ports.js';
import { guardSlackRequests, MAX_SLACK_BODY_BYTES, type RefusalReason } from './guard-slack-requests.js';
import { SlackNotifier, type NotifierFacts } from './slack-notifier.js';
import { registerSlashCommand } from './slash-command.js';
import type { Surface } from './surface.js';

export const SLACK_EVENTS_PATH = '/slack/events';

export interface SlackBotOptions {
  config: Config;
  log: Logger;
  deps: BotDeps;
  /** The bot's one HTTP listener; in HTTP mode Slack's requests are mounted on it. */
  http: HttpServer;
  metrics?: Metrics;
  /** Keeps alert messages (channel, ts) across restarts; app wiring passes a file in STATE_DIR. */
  incidentStore?: IncidentStore;
  /** What the bot knows now, so alert buttons fit the facts. */
  facts?: () => NotifierFacts;
  /** Test knobs: delivery pacing and clock. */
  outbox?: Pick<OutboxOptions, 'minIntervalMs' | 'backoffMs' | 'maxBackoffMs' | 'sleep' | 'now'>;
  now?: () => number;
  groupCacheMs?: number;
}

export interface SlackBot {
  readonly mode: 'http' | 'socket';
  /** Undefined when SLACK_ALERT_CHANNEL is unset: there is nowhere to post alerts. */
  readonly notifier: SlackNotifier | undefined;
  readonly outbox: Outbox;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The Slack surface: a Bolt app (Socket Mode when SLACK_APP_TOKEN is set, else HTTP on the bot's
 * own listener), the slash command, the alert buttons and the Slack notifier. Call only when
 * slackMode(config) is 'http' or 'socket'.
 */
export function createSlackBot(o: SlackBotOptions): SlackBot {
  const { config, http } = o;
  const log = o.log.child({ component: 'slack' });
  const mode = slackMode(config);
  const token = config.SLACK_BOT_TOKEN;
  if ((mode !== 'http' && mode !== 'socket') || token === undefined) {
    throw new Error(`createSlackBot needs SLACK_BOT_TOKEN (slack mode is ${mode})`);
  }
  const logger = boltLogger(log);
  // Our outbox retries (honouring Retry-After) and keeps order; the WebClient must not retry on
  // its own (its default is ~10 retries over 30 minutes, and a 429 pauses every call).
  const clientOptions = {
    slackApiUrl: config.SLACK_API_URL,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 10_000,
  };

  let receiver: Receiver;
  let socket: SocketModeReceiver | undefined;
  if (mode === 'socket') {
    socket = new SocketModeReceiver({
      appToken: config.SLACK_APP_TOKEN as string,
      logger,
      installerOptions: { clientOptions: { slackApiUrl: config.SLACK_API_URL, retryConfig: { retries: 0 } } },
    });
    receiver = socket;
  } else {
    const refused = (reason: RefusalReason) => o.metrics?.httpRequestErrors.inc({ route: SLACK_EVENTS_PATH, reason });
    // Errors inside Bolt's receiver are answered, logged and counted here; none may end the
    // process (src/main.ts exits on an unhandled rejection).
    const failed = (response: ServerResponse, status: number, reason: RefusalReason, err: unknown) => {
      refused(reason);
      log.error({ err, reason, status }, 'slack request failed inside Bolt');
      if (response.headersSent) return false;
      response.writeHead(status).end();
      return true;
    };
    const httpReceiver = new HTTPReceiver({
      signingSecret: config.SLACK_SIGNING_SECRET as string,
      endpoints: SLACK_EVENTS_PATH,
      logger,
      processBeforeResponse: false,
      // The guard reads at most this much; Bolt never sees more.
      bodyLimit: MAX_SLACK_BODY_BYTES,
      dispatchErrorHandler: ({ error, response }) => void failed(response, 500, 'bolt_error', error),
      processEventErrorHandler: async ({ error, response }) => failed(response, 500, 'bolt_error', error),
      unhandledRequestHandler: ({ response }) => {
        refused('no_ack');
        log.warn('a Slack request was not acknowledged within 3 s');
        if (!response.headersSent) response.writeHead(404).end();
      },
    });
    receiver = httpReceiver;
    // Mounted on the bot's listener (BOT_PORT) instead of Bolt opening a second port.
    http.route(
      'POST',
      SLACK_EVENTS_PATH,
      guardSlackRequests(httpReceiver.requestListener, {
        signingSecret: config.SLACK_SIGNING_SECRET as string,
        log,
        onRefused: refused,
        ...(o.now ? { now: o.now } : {}),
      }),
    );
  }

  let identity: { botId: string | undefined; botUserId: string | undefined } = { botId: undefined, botUserId: undefined };
  // authorize instead of `token`: Bolt would otherwise call auth.test before every event (or at
  // construction), and a Slack outage must not stop commands from being acknowledged.
  const app = new App({
    receiver,
    logger,
    clientOptions,
    authorize: async () => ({ botToken: token, botId: identity.botId, botUserId: identity.botUserId }),
  });
  app.error(async (err) => {
    const original = (err as { original?: unknown }).original;
    if (mode === 'http') o.metrics?.httpRequestErrors.inc({ route: SLACK_EVENTS_PATH, reason: 'handler_error' });
    log.error({ err: original ?? err, code: err.code }, 'slack handler failed');
  });

  const call: ApiCall = async (method, args) => (await app.client.apiCall(method, { ...args, token })) as unknown as Record<string, unknown>;
  const outbox = new Outbox({
    call,
    log: log.child({ part: 'outbox' }),
    max: config.OUTBOX_MAX,
    ...o.outbox,
    onRetry: (method) => o.metrics?.slackRetries.inc({ method }),
    onResult: (_method, result) => o.metrics?.alertDeliveries.inc({ notifier: 'slack', result }),
    onDrop: (n) => o.metrics?.alertDeliveries.inc({ notifier: 'slack', result: 'dropped' }, n),
  });
  const channel = config.SLACK_ALERT_CHANNEL;
  const notifier = channel
    ? new SlackNotifier({
        outbox,
        channel,
        runbookUrl: config.RUNBOOK_URL,
        log: log.child({ part: 'notifier' }),
        ...(o.incidentStore ? { store: o.incidentStore } : {}),
        ...(o.facts ? { facts: o.facts } : {}),
      })
    : undefined;
  if (!notifier) log.warn('SLACK_ALERT_CHANNEL is unset: alerts and audit lines are not posted to Slack');

  const now = o.now ?? Date.now;
  const authz = new Authorizer({
    adminUsers: config.SLACK_ADMIN_USERS,
    adminGroup: config.SLACK_ADMIN_GROUP,
    allowedChannels: config.SLACK_ALLOWED_CHANNELS,
    alertChannel: channel,
    listGroupMembers: async (usergroup) => {
      const r = await call('usergroups.users.list', { usergroup });
      return Array.isArray(r.users) ? r.users.filter((u): u is string => typeof u === 'string') : [];
    },
    ...(o.groupCacheMs === undefined ? {} : { cacheMs: o.groupCacheMs }),
    now,
  });
  const surface: Surface = { deps: o.deps, authz, notifier, clicks: new Dedupe(15 * 60_000, now), log, now };
  registerSlashCommand(app, surface);
  registerBlockActions(app, surface);

  let stopped = false;
  let connecting: Promise<void> | undefined;

  async function whoAmI(): Promise<void> {
    try {
      const r = await call('auth.test', {});
      identity = { botId: str(r.bot_id), botUserId: str(r.user_id) };
      log.info({ team: r.team, botUserId: identity.botUserId }, 'slack token accepted');
    } catch (err) {
      log.warn({ err }, 'auth.test failed; commands still work, Slack may be unreachable or the token wrong');
    }
  }

  // Socket Mode must not hold up the watcher when Slack is unreachable at start: connect in the
  // background and keep trying.
  async function connect(): Promise<void> {
    let delay = 1000;
    while (!stopped) {
      try {
        await app.start();
        log.info('socket mode connected');
        return;
      } catch (err) {
        log.warn({ err, retryInMs: delay }, 'socket mode connection failed');
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 60_000);
      }
    }
  }

  return {
    mode,
    notifier,
    outbox,
    async start() {
      await notifier?.restore();
      void whoAmI();
      if (socket) connecting = connect();
      log.info({ mode, apiUrl: config.SLACK_API_URL, alertChannel: channel }, 'slack surface ready');
    },
    async stop() {
      stopped = true;
      outbox.stop();
      await notifier?.flush();
      if (socket && connecting) {
        // Bolt's SocketModeReceiver.stop() returns before the close handshake ends; waiting for it
        // (bounded) leaves no half-closed link, nor the socket client's 30 s close timer, behind.
        const client = socket.client;
        const closed = new Promise<void>((r) => client.once('disconnected', () => r()));
        await app.stop().catch((err: unknown) => log.warn({ err }, 'socket mode stop failed'));
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([closed, new Promise<void>((r) => (timer = setTimeout(r, 3000)))]);
        clearTimeout(timer);
      }
    },
  };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
