// Runs inside the test compose network as service `standin` (see standin.compose.yml): the Slack
// Web API and webhook stand-in the bot container talks to by name, plus a control API that the
// test process reads through a 127.0.0.1 published port. Started with `node --import tsx`.
import { createServer } from 'node:http';
import { SlackStandIn } from '../../support/slack-stand-in.js';

const API_PORT = 4000;
const CONTROL_PORT = 4001;

const standIn = await new SlackStandIn().start({ port: API_PORT, host: '0.0.0.0', publicUrl: `http://standin:${API_PORT}` });

type Control =
  | { op: 'down'; down: boolean }
  | { op: 'failNext'; count: number; status?: number }
  | { op: 'rateLimitNext'; count: number; retryAfterSec: number }
  | { op: 'failWebhookNext'; count: number; status: number; retryAfterSec?: number }
  | { op: 'group'; id: string; users: string[] };

const control = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/state') {
      const body = JSON.stringify({ calls: standIn.calls, responses: standIn.responses, webhooks: standIn.webhooks, refused: standIn.refused, now: Date.now() });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      return;
    }
    if (req.method === 'POST' && req.url === '/control') {
      const c = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Control;
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
