// Runs inside the test compose network as service `standin` (see standin.compose.yml): the Slack
// Web API and webhook stand-in the bot container talks to by name, plus a control API that the
// test process reads through a 127.0.0.1 published port. Started with `node --import tsx`.
import { createServer } from 'node:http';
import { SlackStandIn, type BlockActionFields, type SlashCommandFields } from '../../support/slack-stand-in.js';
import { SocketModeStandIn } from '../../support/socket-mode-stand-in.js';

const API_PORT = 4000;
const CONTROL_PORT = 4001;
const SOCKET_PORT = 4002;

const standIn = await new SlackStandIn().start({ port: API_PORT, host: '0.0.0.0', publicUrl: `http://standin:${API_PORT}` });
// Socket Mode too when the suite gives an app-level token (STANDIN_APP_TOKEN).
const appToken = process.env.STANDIN_APP_TOKEN;
const socket = appToken
  ? await new SocketModeStandIn({ api: standIn, appToken, pingIntervalMs: 5000, host: '0.0.0.0', port: SOCKET_PORT, publicUrl: `ws://standin:${SOCKET_PORT}` }).start()
  : undefined;

type Control =
  | { op: 'down'; down: boolean }
  | { op: 'failNext'; count: number; status?: number }
  | { op: 'rateLimitNext'; count: number; retryAfterSec: number }
  | { op: 'failWebhookNext'; count: number; status: number; retryAfterSec?: number }
  | { op: 'group'; id: string; users: string[] }
  | { op: 'socketSlash'; fields: SlashCommandFields }
  | { op: 'socketClick'; fields: BlockActionFields }
  | { op: 'socketRefresh' };

/** The socket operations answer with the bot's ack (200 + JSON) or why there is none (409). */
async function socketOp(c: Control): Promise<unknown> {
  if (!socket) throw new Error('Socket Mode is off: start the stand-in with STANDIN_APP_TOKEN');
  if (c.op === 'socketSlash') return socket.slashCommand(c.fields, { timeoutMs: 5000 });
  if (c.op === 'socketClick') return socket.blockAction(c.fields, { timeoutMs: 5000 });
  socket.requestRefresh();
  return {};
}

const control = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/state') {
      const sockets = socket && { opens: socket.opens.map((o) => o.ok), connections: socket.connectionCount, open: socket.openSockets, acks: socket.acks.length };
      const body = JSON.stringify({ calls: standIn.calls, responses: standIn.responses, webhooks: standIn.webhooks, refused: standIn.refused, socket: sockets, now: Date.now() });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      return;
    }
    if (req.method === 'POST' && req.url === '/control') {
      const c = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Control;
      if (c.op.startsWith('socket')) {
        socketOp(c).then(
          (ack) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(ack)),
          (err: Error) => res.writeHead(409, { 'content-type': 'text/plain' }).end(err.message),
        );
        return;
      }
      if (c.op === 'down') standIn.setDown(c.down);
      else if (c.op === 'failNext') standIn.failNext(c.count, c.status);
      else if (c.op === 'rateLimitNext') standIn.rateLimitNext(c.count, c.retryAfterSec);
      else if (c.op === 'failWebhookNext') standIn.failWebhookNext(c.count, c.status, c.retryAfterSec);
      else if (c.op === 'group') standIn.groups.set(c.id, c.users);
      res.writeHead(204).end();
      return;
    }
    res.writeHead(404).end();
  });
});
control.listen(CONTROL_PORT, '0.0.0.0', () => process.stdout.write(`standin ready api=${API_PORT} control=${CONTROL_PORT}\n`));

process.on('SIGTERM', () => process.exit(0));
