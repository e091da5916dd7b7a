import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// A local stand-in for Slack: the Web API at `${url}/api/` (point SLACK_API_URL there), a sink
// for response_url posts at `${url}/response/<id>`, and helpers that sign requests the way Slack
// does so tests can drive the real Bolt HTTP receiver. It answers as Slack does:
//   200 {"ok":true,"channel":"C1","ts":"1700000000.000100","message":{...}}
//   429 with Retry-After: <seconds> when told to rate limit
//   5xx, or a reset connection when "down".

export interface RecordedCall {
  method: string;
  args: Record<string, unknown>;
  at: number;
  authorization: string | undefined;
  /** What the stand-in answered (the ts of a posted message lives here). */
  answer?: Record<string, unknown>;
}

/** A custom answer to one Web API method; `authorization` is the raw header (`Bearer xoxb-…`). */
export type MethodHandler = (args: Record<string, unknown>, authorization: string | undefined) => Record<string, unknown>;

export interface RecordedResponse {
  id: string;
  body: Record<string, unknown>;
  at: number;
}

export class SlackStandIn {
  readonly calls: RecordedCall[] = [];
  readonly responses: RecordedResponse[] = [];
  /** Attempts that were refused (down, 429, 5xx), for asserting retries happened. */
  readonly refused: { method: string; how: string; at: number }[] = [];
  readonly groups = new Map<string, string[]>();
  /** Incoming-webhook posts received at /webhook (the simple alerts-only mode). */
  readonly webhooks: { body: Record<string, unknown>; at: number }[] = [];
  /** When set, /webhook answers this status (with Retry-After for 429) this many more times. */
  #webhookFail: { count: number; status: number; retryAfterSec?: number } | undefined;
  #server: Server | undefined;
  #url = '';
  #down = false;
  #failNext: { status: number; count: number; methods?: string[] } | undefined;
  #rateLimitNext: { count: number; retryAfterSec: number } | undefined;
  #platformErrors = new Map<string, string>();
  #handlers = new Map<string, MethodHandler>();
  #seq = 100;
  #waiters: (() => void)[] = [];

  get url(): string {
    return this.#url;
  }
  /** Value for SLACK_API_URL. */
  get apiUrl(): string {
    return `${this.#url}/api/`;
  }
  responseUrl(id: string): string {
    return `${this.#url}/response/${id}`;
  }

  /**
   * Listens on 127.0.0.1 by default. Inside the test compose network it listens on 0.0.0.0 and is
   * reached by name (publicUrl), so the bot container never needs to reach the host.
   */
  async start(opts: { port?: number; host?: string; publicUrl?: string } = {}): Promise<this> {
    const server = createServer((req, res) => void this.#handle(req, res));
    this.#server = server;
    const host = opts.host ?? '127.0.0.1';
    await new Promise<void>((r) => server.listen(opts.port ?? 0, host, r));
    this.#url = opts.publicUrl ?? `http://${host}:${(server.address() as AddressInfo).port}`;
    return this;
  }

  /** Value for SLACK_WEBHOOK_URL. */
  get webhookUrl(): string {
    return `${this.#url}/webhook`;
  }

  failWebhookNext(count: number, status: number, retryAfterSec?: number): void {
    this.#webhookFail = retryAfterSec === undefined ? { count, status } : { count, status, retryAfterSec };
  }

  async stop(): Promise<void> {
    const s = this.#server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  /** While down, every Web API request has its connection reset. */
  setDown(down: boolean): void {
    this.#down = down;
  }
  failNext(count: number, status = 503, methods?: string[]): void {
    this.#failNext = methods ? { count, status, methods } : { count, status };
  }
  rateLimitNext(count: number, retryAfterSec: number): void {
    this.#rateLimitNext = { count, retryAfterSec };
  }
  /** Answer {ok:false, error} to every call of `method` until cleared with undefined. */
  platformError(method: string, error: string | undefined): void {
    if (error === undefined) this.#platformErrors.delete(method);
    else this.#platformErrors.set(method, error);
  }

  /**
   * Answer `method` with `handler` instead of the built-in answer (the Socket Mode stand-in serves
   * apps.connections.open this way); undefined restores the default.
   */
  handle(method: string, handler: MethodHandler | undefined): void {
    if (handler === undefined) this.#handlers.delete(method);
    else this.#handlers.set(method, handler);
  }

  callsOf(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Resolves when `check` holds, re-checked after every recorded call; rejects after timeoutMs. */
  async waitFor<T>(check: () => T | undefined | false, timeoutMs = 5000, what = 'condition'): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v !== undefined && v !== false) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`slack stand-in: timed out waiting for ${what}; calls: ${this.calls.map((c) => c.method).join(', ')}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 200));
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  #notify(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readAll(req);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path.startsWith('/response/')) {
      this.responses.push({ id: path.slice('/response/'.length), body: parseBody(raw, req.headers['content-type']), at: Date.now() });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      this.#notify();
      return;
    }
    if (path === '/webhook') {
      const wf = this.#webhookFail;
      if (wf && wf.count > 0) {
        wf.count -= 1;
        this.refused.push({ method: 'webhook', how: String(wf.status), at: Date.now() });
        const headers: Record<string, string> = { 'content-type': 'text/plain' };
        if (wf.retryAfterSec !== undefined) headers['retry-after'] = String(wf.retryAfterSec);
        res.writeHead(wf.status, headers).end(wf.status === 429 ? 'rate_limited' : 'error');
      } else {
        this.webhooks.push({ body: parseBody(raw, req.headers['content-type']), at: Date.now() });
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      }
      this.#notify();
      return;
    }
    if (!path.startsWith('/api/')) {
      res.writeHead(404).end();
      return;
    }
    const method = path.slice('/api/'.length);
    if (this.#down) {
      this.refused.push({ method, how: 'down', at: Date.now() });
      req.socket.destroy();
      this.#notify();
      return;
    }
    const rl = this.#rateLimitNext;
    if (rl && rl.count > 0) {
      rl.count -= 1;
      this.refused.push({ method, how: '429', at: Date.now() });
      res.writeHead(429, { 'retry-after': String(rl.retryAfterSec), 'content-type': 'application/json' }).end(JSON.stringify({ ok: false, error: 'ratelimited' }));
      this.#notify();
      return;
    }
    const f = this.#failNext;
    if (f && f.count > 0 && (!f.methods || f.methods.includes(method))) {
      f.count -= 1;
      this.refused.push({ method, how: String(f.status), at: Date.now() });
      res.writeHead(f.status, { 'content-type': 'text/plain' }).end('upstream connect error');
      this.#notify();
      return;
    }
    const args = parseBody(raw, req.headers['content-type']);
    const error = this.#platformErrors.get(method);
    const handler = this.#handlers.get(method);
    const answer = error ? { ok: false, error } : handler ? handler(args, req.headers.authorization) : this.#answer(method, args);
    this.calls.push({ method, args, at: Date.now(), authorization: req.headers.authorization, answer });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    this.#notify();
  }

  #answer(method: string, args: Record<string, unknown>): Record<string, unknown> {
    switch (method) {
      case 'auth.test':
        return { ok: true, url: 'https://standin.slack.com/', team: 'stand-in', user: 'bluegreen', team_id: 'T0', user_id: 'UBOT', bot_id: 'BBOT' };
      case 'chat.postMessage': {
        this.#seq += 1;
        const ts = `1700000000.${String(this.#seq).padStart(6, '0')}`;
        return { ok: true, channel: args.channel, ts, message: { text: args.text, ts } };
      }
      case 'chat.update':
        return { ok: true, channel: args.channel, ts: args.ts, text: args.text };
      case 'usergroups.users.list': {
        const users = this.groups.get(String(args.usergroup));
        return users ? { ok: true, users } : { ok: false, error: 'no_such_subteam' };
      }
      default:
        return { ok: true };
    }
  }
}

async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The WebClient sends form fields with nested values as JSON strings; respond() sends JSON. */
function parseBody(raw: string, contentType: string | undefined): Record<string, unknown> {
  if (raw === '') return {};
  if (contentType?.includes('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    out[k] = /^[[{]/.test(v) ? safeJson(v) : v;
  }
  return out;
}

function safeJson(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

// ---- signed requests to the bot, as Slack sends them ----

/** `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{raw body}`. */
export function slackSignature(secret: string, timestampSec: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestampSec}:${body}`).digest('hex')}`;
}

export interface SignedPost {
  url: string;
  secret: string;
  /** Form body, already encoded. */
  body: string;
  timestampSec?: number;
  /** Override the signature (forgery tests). */
  signature?: string;
  headers?: Record<string, string>;
}

export async function postSigned(p: SignedPost): Promise<{ status: number; body: string; headers: Headers }> {
  const ts = p.timestampSec ?? Math.floor(Date.now() / 1000);
  const res = await fetch(p.url, {
    method: 'POST',
    headers: {
      // Bolt compares the content type exactly: no "; charset".
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(ts),
      'x-slack-signature': p.signature ?? slackSignature(p.secret, ts, p.body),
      ...p.headers,
    },
    body: p.body,
  });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

export interface SlashCommandFields {
  text: string;
  userId: string;
  channelId: string;
  responseUrl: string;
  userName?: string;
  triggerId?: string;
}

/** Form body of a slash command. */
export function slashCommandBody(f: SlashCommandFields): string {
  return new URLSearchParams(slashCommandPayload(f)).toString();
}

/** A slash command's fields as Slack sends them (form fields over HTTP, the JSON payload in Socket Mode). */
export function slashCommandPayload(f: SlashCommandFields): Record<string, string> {
  return {
    token: 'legacy-verification-token',
    team_id: 'T0',
    team_domain: 'standin',
    channel_id: f.channelId,
    channel_name: 'ops',
    user_id: f.userId,
    user_name: f.userName ?? f.userId.toLowerCase(),
    command: '/bluegreen',
    text: f.text,
    api_app_id: 'A0',
    is_enterprise_install: 'false',
    response_url: f.responseUrl,
    trigger_id: f.triggerId ?? `trig.${Math.random().toString(36).slice(2)}`,
  };
}

export interface BlockActionFields {
  actionId: string;
  value: string;
  userId: string;
  channelId: string;
  messageTs: string;
  responseUrl: string;
  actionTs?: string;
}

/** Form body of a block_actions click on a button of a message. */
export function blockActionBody(f: BlockActionFields): string {
  return new URLSearchParams({ payload: JSON.stringify(blockActionPayload(f)) }).toString();
}

/** The block_actions payload of a button click (the `payload` form field over HTTP; the envelope's payload in Socket Mode). */
export function blockActionPayload(f: BlockActionFields): Record<string, unknown> {
  return {
    type: 'block_actions',
    team: { id: 'T0', domain: 'standin' },
    user: { id: f.userId, username: f.userId.toLowerCase(), name: f.userId.toLowerCase(), team_id: 'T0' },
    api_app_id: 'A0',
    token: 'legacy-verification-token',
    container: { type: 'message', message_ts: f.messageTs, channel_id: f.channelId, is_ephemeral: false },
    trigger_id: `trig.${Math.random().toString(36).slice(2)}`,
    channel: { id: f.channelId, name: 'ops' },
    message: { type: 'message', ts: f.messageTs, text: 'alert', user: 'UBOT', bot_id: 'BBOT' },
    response_url: f.responseUrl,
    actions: [
      {
        type: 'button',
        action_id: f.actionId,
        block_id: 'incident_actions',
        text: { type: 'plain_text', text: 'button', emoji: true },
        value: f.value,
        action_ts: f.actionTs ?? `${(Date.now() / 1000).toFixed(6)}`,
      },
    ],
  };
}
