import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Writable } from 'node:stream';
import type { Command } from '../../../src/commands/command.js';
import type { Actor } from '../../../src/shared/actor.js';
import type { OpResult } from '../../../src/shared/op-result.js';
import type { AuditEntry } from '../../../src/bot/blocks/audit.js';
import type { StatusView } from '../../../src/bot/blocks/status.js';
import type { CommandRunner } from '../../../src/bot/ports.js';
import type { Progress } from '../../../src/shared/progress.js';
import { createLogger, type Logger } from '../../../src/log.js';
import type { AddressInfo } from 'node:net';
import { parseCommand, USAGE } from '../../../src/commands/parse-command.js';
import { loadConfig } from '../../../src/config.js';
import { HttpServer } from '../../../src/http-server.js';
import type { Metrics } from '../../../src/metrics.js';
import { createSlackBot, type SlackBot } from '../../../src/bot/slack-bot.js';
import type { AlertEvent } from '../../../src/shared/alert.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App } from '../../../src/app.js';

/** Who and where in the bot tests: an admin, a plain member, the alert channel and an allowed channel. */
export const ADMIN = 'U_ADMIN';
export const VIEWER = 'U_VIEWER';
export const ALERTS = 'C_ALERTS';
export const OPS = 'C_OPS';

export function alertEvent(over: Partial<AlertEvent> = {}): AlertEvent {
  return {
    id: 'evt-1',
    key: 'failover:blue',
    kind: 'failover',
    status: 'firing',
    severity: 'critical',
    pool: 'blue',
    release: 'r-2024.06.1',
    env: 'prod-eu-1',
    title: 'Failover: blue -> green',
    summary: 'Traffic is served by the backup pool green; blue answers 500',
    observed: 12.5,
    threshold: 2,
    unit: '%',
    windowSize: 200,
    samples: 200,
    sampleLines: [
      '{"time":"2024-06-01T03:00:00+00:00","status":200,"upstream_status":"500, 200","pool":"green","release":"r-2024.06.1"}',
      '{"time":"2024-06-01T03:00:01+00:00","status":200,"upstream_status":"500, 200","pool":"green","release":"r-2024.06.1"}',
    ],
    explainedBy: [],
    at: '2024-06-01T03:00:02.000Z',
    firstAt: '2024-06-01T03:00:02.000Z',
    ...over,
  };
}

export function statusView(over: Partial<StatusView> = {}): StatusView {
  return {
    env: 'prod-eu-1',
    active: 'blue',
    pools: [
      { pool: 'blue', state: 'running', health: 'healthy', release: 'r-1', image: 'demo-app:1', errorRatePct: 0.5, p95Ms: 42, retried5m: 3, chaos: undefined, running: 1, desired: 1, perNode: undefined, placementWarning: undefined, update: undefined, updateTrouble: false, notRunning: [] },
      { pool: 'green', state: 'running', health: 'unhealthy', release: 'r-2', image: 'demo-app:2', errorRatePct: undefined, p95Ms: undefined, retried5m: undefined, chaos: 'error', running: 1, desired: 1, perNode: undefined, placementWarning: undefined, update: undefined, updateTrouble: false, notRunning: [] },
    ],
    maintenance: { on: false, until: undefined, by: undefined },
    lastSwitch: { at: '2024-06-01T02:00:00.000Z', from: 'green', to: 'blue', by: 'U_ADMIN' },
    lastFailover: undefined,
    lock: undefined,
    ...over,
  };
}

/** A runner over an in-memory system: switch and rollback move `active`; every call is kept. */
export class FakeRunner implements CommandRunner {
  active: 'blue' | 'green' = 'blue';
  previous: 'blue' | 'green' | undefined;
  readonly calls: { cmd: Command; actor: Actor }[] = [];
  delayMs = 0;

  /** Back to blue with nothing run, between tests that share one bot. */
  reset(): void {
    this.calls.length = 0;
    this.active = 'blue';
    this.previous = undefined;
  }

  async run(cmd: Command, actor: Actor, progress: Progress): Promise<OpResult<unknown>> {
    this.calls.push({ cmd, actor });
    progress('lock taken');
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (cmd.name === 'switch') {
      if (cmd.pool === this.active) return { status: 'refused', reason: `${cmd.pool} is already active` };
      progress(`flag file active-${cmd.pool} written`);
      this.previous = this.active;
      this.active = cmd.pool;
      progress('traffic verified');
      return { status: 'ok', message: `switched to ${cmd.pool}` };
    }
    if (cmd.name === 'rollback') {
      if (!this.previous) return { status: 'refused', reason: 'no previous pool recorded' };
      const to = this.previous;
      this.previous = this.active;
      this.active = to;
      return { status: 'ok', message: `rolled back to ${to}` };
    }
    return { status: 'ok', message: `${cmd.name} done` };
  }
}

export class AuditSink {
  readonly entries: AuditEntry[] = [];
  readonly audit = (e: AuditEntry): void => {
    this.entries.push(e);
  };
}

/** A pino logger whose lines tests can read. */
export function capturedLogger(level = 'debug'): { log: Logger; lines: () => string[] } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  const log = createLogger({ level, destination });
  return { log, lines: () => chunks.join('').split('\n').filter((l) => l.length > 0) };
}

/** A raw answer from the bot's listener: status, headers and whether the server closed the connection. */
export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The server closed the socket (it was not left on keep-alive with half a body unread). */
  closed: boolean;
  ms: number;
}

/**
 * One POST on its own socket, with full control over what is sent: header lines as given (an
 * array value sends the header twice), the body in `chunks` written `gapMs` apart, and a
 * `contentLength` that may promise more than is ever sent. Resolves on the answer (or rejects
 * after `timeoutMs`), without waiting for the body to be sent in full.
 */
export function rawPost(p: {
  url: string;
  headers: Record<string, string | string[]>;
  chunks?: (string | Buffer)[];
  gapMs?: number;
  contentLength?: number;
  timeoutMs?: number;
}): Promise<RawAnswer> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const chunks = p.chunks ?? [];
    const length = p.contentLength ?? chunks.reduce((n, c) => n + Buffer.byteLength(c), 0);
    const req = httpRequest(p.url, { method: 'POST', agent: false, headers: { ...p.headers, 'content-length': String(length) } });
    let stop = false;
    const timer = setTimeout(() => {
      stop = true;
      req.destroy();
      reject(new Error(`no answer within ${p.timeoutMs ?? 3000} ms`));
    }, p.timeoutMs ?? 3000);
    req.on('error', () => undefined); // EPIPE / ECONNRESET while still writing: the answer decides
    req.on('response', (res) => {
      stop = true;
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('error', () => undefined);
      const done = (closed: boolean) => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8'), closed, ms: Date.now() - started });
      };
      res.on('end', () => {
        // Give the server a moment to close the socket, then report whether it did.
        const s = res.socket;
        if (s.destroyed || s.readableEnded) return done(true);
        const t = setTimeout(() => done(false), 500);
        s.once('close', () => {
          clearTimeout(t);
          done(true);
        });
        s.once('end', () => {
          clearTimeout(t);
          done(true);
        });
      });
    });
    void (async () => {
      for (const c of chunks) {
        if (stop || req.destroyed) return;
        req.write(c);
        if (p.gapMs) await new Promise((r) => setTimeout(r, p.gapMs));
      }
      if (p.contentLength === undefined && !req.destroyed) req.end();
    })();
  });
}

/** The Slack bot in HTTP mode on its own listener, with a fake runner and audit sink: what the HTTP suites share. */
export interface HttpBotUnderTest {
  http: HttpServer;
  bot: SlackBot;
  /** POST /slack/events on the listener. */
  url: string;
  runner: FakeRunner;
  audits: AuditSink;
  stop(): Promise<void>;
}

export async function startHttpBot(o: { env: Record<string, string>; log: Logger; metrics?: Metrics }): Promise<HttpBotUnderTest> {
  const http = new HttpServer(o.log);
  const runner = new FakeRunner();
  const audits = new AuditSink();
  const bot = createSlackBot({
    config: loadConfig(o.env),
    log: o.log,
    http,
    ...(o.metrics ? { metrics: o.metrics } : {}),
    deps: { parse: parseCommand, runner, status: async () => ({ status: 'ok' as const, message: 'status', data: statusView() }), audit: audits.audit, usage: USAGE },
    outbox: { minIntervalMs: 0, backoffMs: 10 },
  });
  await bot.start();
  const addr: AddressInfo = await http.listen(0, '127.0.0.1');
  return {
    http,
    bot,
    url: `http://127.0.0.1:${addr.port}/slack/events`,
    runner,
    audits,
    async stop() {
      await bot.stop();
      await http.close();
    },
  };
}

/**
 * The whole app in Slack HTTP mode against a Web API stand-in (its apiUrl), on free ports, with a
 * STATE_DIR of its own and no Docker; `env` adds or overrides settings.
 */
export async function startSlackHttpApp(
  slackApiUrl: string,
  env: Record<string, string> = {},
): Promise<{ app: App; bot: AddressInfo; metrics: AddressInfo; stateDir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'bg-slack-app-'));
  const stateDir = join(dir, 'state');
  const config = loadConfig({
    SLACK_BOT_TOKEN: 'xoxb-wiring',
    SLACK_SIGNING_SECRET: 'wiring-secret',
    SLACK_API_URL: slackApiUrl,
    SLACK_ALERT_CHANNEL: 'C_ALERTS',
    BOT_PORT: '0',
    BOT_HOST: '127.0.0.1',
    // METRICS_HOST left to its default.
    METRICS_PORT: '0',
    STATE_DIR: stateDir,
    NGINX_STATE_DIR: join(dir, 'nginx'),
    AUTO_FAILOVER: 'false',
    DOCKER_SOCKET: join(dir, 'no-docker.sock'),
    LOG_LEVEL: 'warn',
    ...env,
  });
  const app = createApp({ config, log: capturedLogger('warn').log });
  const addr = await app.start();
  return { app, ...addr, stateDir };
}

