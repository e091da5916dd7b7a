import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { blockActionPayload, slashCommandPayload, type BlockActionFields, type SlackStandIn, type SlashCommandFields } from './slack-stand-in.js';

// Slack's Socket Mode, stood in locally so the real Bolt SocketModeReceiver (and @slack/socket-mode
// underneath) can be driven in tests. It rides on a SlackStandIn, which keeps serving the Web API:
// this adds `apps.connections.open` there and a ws:// server the answer points at.
//
// The frames, as docs.slack.dev/apis/events-api/using-socket-mode shows them:
//   apps.connections.open (Authorization: Bearer xapp-…) -> {"ok":true,"url":"wss://wss.slack.com/link/?ticket=1234-5678"}
//   server, on connect:  {"type":"hello","connection_info":{"app_id":"A1234"},"num_connections":1,
//                         "debug_info":{"host":"applink-…","build_number":54,"approximate_connection_time":3600}}
//   server, an envelope: {"payload":{…},"envelope_id":"dbdd0ef3-1543-4f94-bfb4-133d0e6c1545",
//                         "type":"slash_commands","accepts_response_payload":true}
//   client, the ack:     {"envelope_id":"dbdd0ef3-1543-4f94-bfb4-133d0e6c1545","payload":{…}}  (payload optional)
//   server, a refresh:   {"type":"disconnect","reason":"refresh_requested","debug_info":{"host":"wss-111.slack.com"}}
// A wrong token gets {"ok":false,"error":"invalid_auth"}; a bot token {"ok":false,"error":"not_allowed_token_type"}.

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

export interface Envelope {
  envelope_id: string;
  type: EnvelopeType;
  payload: Record<string, unknown>;
  accepts_response_payload: boolean;
}

export interface SocketAck {
  envelope_id: string;
  /** What the app put in ack(): an empty object for a bare ack(). */
  payload: Record<string, unknown> | undefined;
  at: number;
}

export interface SocketModeStandInOptions {
  /** The Web API stand-in the bot's SLACK_API_URL points at. */
  api: SlackStandIn;
  /** The app-level token apps.connections.open accepts. */
  appToken: string;
  appId?: string;
  /** Slack pings the client regularly; @slack/socket-mode drops a link silent for 30 s. */
  pingIntervalMs?: number;
  /** Where the ws:// server listens [127.0.0.1, a free port]. */
  host?: string;
  port?: number;
  /** The ws:// base apps.connections.open answers with, as the bot reaches it [ws://127.0.0.1:<port>]. */
  publicUrl?: string;
}

interface Pending {
  resolve: (ack: SocketAck) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class SocketModeStandIn {
  /** Every envelope sent, in order. */
  readonly sent: Envelope[] = [];
  /** Every ack received, in order, late ones and unknown envelope ids included. */
  readonly acks: SocketAck[] = [];
  /** apps.connections.open attempts and whether they were accepted. */
  readonly opens: { authorization: string | undefined; ok: boolean; at: number }[] = [];
  /** Frames the client sent that were not acks (no envelope_id, or not JSON). */
  readonly strayFrames: string[] = [];
  readonly #o: SocketModeStandInOptions;
  readonly #tickets = new Set<string>();
  readonly #sockets = new Set<WebSocket>();
  readonly #pending = new Map<string, Pending>();
  #connections = 0;
  #wss: WebSocketServer | undefined;
  #port = 0;
  #ping: NodeJS.Timeout | undefined;
  #waiters: (() => void)[] = [];

  constructor(opts: SocketModeStandInOptions) {
    this.#o = opts;
  }

  /** Sockets open now. */
  get openSockets(): number {
    return this.#sockets.size;
  }

  /** Sockets that completed the handshake (got hello) since start. */
  get connectionCount(): number {
    return this.#connections;
  }

  async start(): Promise<this> {
    const wss = new WebSocketServer({ host: this.#o.host ?? '127.0.0.1', port: this.#o.port ?? 0 });
    this.#wss = wss;
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    this.#port = (wss.address() as AddressInfo).port;
    wss.on('connection', (ws, req) => this.#accept(ws, req.url ?? ''));
    this.#o.api.handle('apps.connections.open', (_args, authorization) => this.#open(authorization));
    this.#ping = setInterval(() => {
      for (const ws of this.#sockets) ws.ping();
    }, this.#o.pingIntervalMs ?? 5000);
    this.#ping.unref();
    return this;
  }

  async stop(): Promise<void> {
    clearInterval(this.#ping);
    this.#o.api.handle('apps.connections.open', undefined);
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error('socket mode stand-in stopped'));
    }
    this.#pending.clear();
    for (const ws of this.#sockets) ws.terminate();
    const wss = this.#wss;
    if (wss) await new Promise<void>((r) => wss.close(() => r()));
  }

  /** Resolves once `count` handshakes have completed since start. */
  async waitForConnections(count = 1, timeoutMs = 5000): Promise<void> {
    await this.#until(() => this.#connections >= count && this.#sockets.size > 0, timeoutMs, `${count} socket mode connection(s)`);
  }

  /** Send an envelope on the newest open socket; resolves with the client's ack. */
  async send(type: EnvelopeType, payload: Record<string, unknown>, opts: { timeoutMs?: number; envelopeId?: string } = {}): Promise<SocketAck> {
    const ws = [...this.#sockets].at(-1);
    if (!ws) throw new Error('socket mode stand-in: no client is connected');
    const envelope: Envelope = { envelope_id: opts.envelopeId ?? randomUUID(), type, payload, accepts_response_payload: type !== 'events_api' };
    const timeoutMs = opts.timeoutMs ?? 3000;
    const acked = new Promise<SocketAck>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(envelope.envelope_id);
        reject(new Error(`socket mode stand-in: no ack for ${type} ${envelope.envelope_id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(envelope.envelope_id, { resolve, reject, timer });
    });
    this.sent.push(envelope);
    ws.send(JSON.stringify(envelope));
    return acked;
  }

  slashCommand(f: SlashCommandFields, opts?: { timeoutMs?: number }): Promise<SocketAck> {
    return this.send('slash_commands', slashCommandPayload(f), opts);
  }

  blockAction(f: BlockActionFields, opts?: { timeoutMs?: number }): Promise<SocketAck> {
    return this.send('interactive', blockActionPayload(f), opts);
  }

  /** Ask every client to reconnect, as Slack does when it recycles a link. */
  requestRefresh(reason: 'refresh_requested' | 'warning' | 'link_disabled' = 'refresh_requested'): void {
    const frame = JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'wss-standin' } });
    for (const ws of this.#sockets) ws.send(frame);
  }

  #open(authorization: string | undefined): Record<string, unknown> {
    const ok = authorization === `Bearer ${this.#o.appToken}`;
    this.opens.push({ authorization, ok, at: Date.now() });
    if (!ok) return { ok: false, error: authorization?.startsWith('Bearer xoxb-') ? 'not_allowed_token_type' : 'invalid_auth' };
    const ticket = randomUUID();
    this.#tickets.add(ticket);
    const base = this.#o.publicUrl ?? `ws://127.0.0.1:${this.#port}`;
    return { ok: true, url: `${base}/link/?ticket=${ticket}&app_id=${this.#o.appId ?? 'A0'}` };
  }

  #accept(ws: WebSocket, url: string): void {
    // A ticket is good for one connection, as Slack's are.
    const ticket = new URL(url, 'ws://x').searchParams.get('ticket') ?? '';
    if (!this.#tickets.delete(ticket)) {
      ws.close(1008, 'invalid ticket');
      return;
    }
    this.#sockets.add(ws);
    ws.on('close', () => {
      this.#sockets.delete(ws);
      this.#notify();
    });
    ws.on('message', (data, isBinary) => this.#onFrame(isBinary ? '' : data.toString()));
    this.#connections += 1;
    ws.send(
      JSON.stringify({
        type: 'hello',
        connection_info: { app_id: this.#o.appId ?? 'A0' },
        num_connections: this.#sockets.size,
        debug_info: { host: 'applink-standin', build_number: 1, approximate_connection_time: 3600 },
      }),
    );
    this.#notify();
  }

  #onFrame(text: string): void {
    let frame: { envelope_id?: unknown; payload?: unknown };
    try {
      frame = JSON.parse(text) as typeof frame;
    } catch {
      this.strayFrames.push(text);
      return;
    }
    if (typeof frame.envelope_id !== 'string') {
      this.strayFrames.push(text);
      return;
    }
    const payload = frame.payload !== null && typeof frame.payload === 'object' ? (frame.payload as Record<string, unknown>) : undefined;
    const ack: SocketAck = { envelope_id: frame.envelope_id, payload, at: Date.now() };
    this.acks.push(ack);
    // A late ack (after the send timed out) stays in `acks` only.
    const pending = this.#pending.get(frame.envelope_id);
    if (!pending) return;
    this.#pending.delete(frame.envelope_id);
    clearTimeout(pending.timer);
    pending.resolve(ack);
    this.#notify();
  }

  #notify(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  async #until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`socket mode stand-in: timed out waiting for ${what}; opens: ${this.opens.length}, sockets: ${this.#sockets.size}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 100));
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
}
