import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createMetrics } from '../../../src/metrics.js';
import type { AlertEvent } from '../../../src/shared/alert.js';
import { WebhookNotifier, renderSimple } from '../../../src/bot/webhook-notifier.js';
import { capturedLogger } from './fixtures.js';

function alert(n: number, over: Partial<AlertEvent> = {}): AlertEvent {
  return {
    id: `id-${n}`,
    key: 'failover:blue',
    kind: 'failover',
    status: 'firing',
    severity: 'warning',
    pool: 'blue',
    release: 'blue-r1',
    env: 'test',
    title: `alert ${n}`,
    summary: 'summary',
    observed: 40,
    threshold: undefined,
    unit: '%',
    windowSize: 200,
    samples: 120,
    sampleLines: ['{"status":500}'],
    explainedBy: ['chaos on blue'],
    at: new Date().toISOString(),
    firstAt: new Date().toISOString(),
    ...over,
  };
}

/** A local stand-in for Slack's incoming webhook that answers from a script of status codes. */
class StandIn {
  server: Server;
  received: { body: { text: string }; at: number }[] = [];
  script: ((req: IncomingMessage, res: ServerResponse) => boolean)[] = [];
  url = '';
  constructor() {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const step = this.script.shift();
        if (step && step(req, res)) return;
        this.received.push({ body: JSON.parse(body) as { text: string }, at: Date.now() });
        res.writeHead(200).end('ok');
      });
    });
  }
  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/services/T/B/X`;
  }
}

const reply = (status: number, headers: Record<string, string> = {}) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(status, headers).end(status === 429 ? 'rate_limited' : 'error');
  return true;
};

describe('WebhookNotifier', () => {
  const standIn = new StandIn();
  const log = pino({ level: 'silent' });
  before(() => standIn.listen());
  after(() => new Promise<void>((r) => standIn.server.close(() => r())));

  it('posts Slack-compatible JSON: text plus simple blocks', async () => {
    standIn.received = [];
    const n = new WebhookNotifier({ url: standIn.url, log });
    await n.notify(alert(1));
    await n.idle();
    const body = standIn.received[0]!.body as unknown as ReturnType<typeof renderSimple>;
    assert.match(body.text, /\[test\] alert 1/);
    assert.equal((body.blocks[0] as { type: string }).type, 'section');
    assert.equal(n.stats.delivered, 1);
  });

  it('waits for Retry-After on 429, backs off on 500s, and keeps the order', async () => {
    standIn.received = [];
    standIn.script = [reply(429, { 'retry-after': '1' }), reply(500), reply(503)];
    const metrics = createMetrics();
    const n = new WebhookNotifier({ url: standIn.url, log, metrics, backoffMs: 50 });
    const t0 = Date.now();
    for (let i = 1; i <= 5; i++) await n.notify(alert(i));
    await n.idle();
    assert.deepEqual(
      standIn.received.map((r) => r.body.text.replace(/^.*\] /, '')),
      ['alert 1', 'alert 2', 'alert 3', 'alert 4', 'alert 5'],
    );
    const firstDelivered = standIn.received[0]!.at - t0;
    assert.ok(firstDelivered >= 1000 + 50 + 100 - 20, `Retry-After honoured, then backoff: ${firstDelivered} ms`);
    assert.deepEqual([n.stats.delivered, n.stats.retries, n.stats.failed], [5, 3, 0]);
    const text = await metrics.registry.metrics();
    assert.match(text, /bluegreen_alert_deliveries_total\{notifier="webhook",result="retry"\} 3/);
    assert.match(text, /bluegreen_alert_deliveries_total\{notifier="webhook",result="ok"\} 5/);
  });

  it('keeps retrying while the webhook is unreachable, and delivers once it is back', async () => {
    const down = new StandIn();
    await down.listen();
    const url = down.url;
    await new Promise<void>((r) => down.server.close(() => r()));
    const n = new WebhookNotifier({ url, log, backoffMs: 20, maxBackoffMs: 40 });
    await n.notify(alert(1));
    await new Promise((r) => setTimeout(r, 150));
    assert.ok(n.stats.retries >= 2);
    assert.equal(n.stats.delivered, 0);
    const port = Number(new URL(url).port);
    down.received = [];
    await new Promise<void>((r) => down.server.listen(port, '127.0.0.1', r));
    await n.idle();
    assert.equal(down.received.length, 1);
    await new Promise<void>((r) => down.server.close(() => r()));
  });

  it('keeps at most maxQueued alerts while the webhook is down, and posts how many it dropped once it answers', async (t) => {
    standIn.received = [];
    standIn.script = Array.from({ length: 5 }, () => reply(503));
    const metrics = createMetrics();
    const n = new WebhookNotifier({ url: standIn.url, log, metrics, backoffMs: 10, maxBackoffMs: 20, maxQueued: 10 });
    t.after(() => n.stop());
    for (let i = 1; i <= 40; i++) {
      await n.notify(alert(i));
      assert.ok(n.stats.queued <= 10, `at most 10 wait (${n.stats.queued})`);
    }
    await n.idle();
    const texts = standIn.received.map((r) => r.body.text);
    // The one in flight, then the notice, then the newest nine.
    assert.match(texts[0] ?? '', /alert 1$/);
    assert.match(texts[1] ?? '', /^:warning: 30 alerts were dropped while this webhook was unreachable/);
    assert.deepEqual(texts.slice(2).map((t) => t.replace(/^.*\] /, '')), Array.from({ length: 9 }, (_, i) => `alert ${32 + i}`));
    assert.deepEqual([n.stats.dropped, n.stats.delivered], [30, 10]);
    assert.match(await metrics.registry.metrics(), /bluegreen_alert_deliveries_total\{notifier="webhook",result="dropped"\} 30/);
  });

  it('drops an alert the webhook refuses outright (400), logs it, and goes on', async () => {
    standIn.received = [];
    standIn.script = [reply(400)];
    const n = new WebhookNotifier({ url: standIn.url, log, backoffMs: 10 });
    await n.notify(alert(1));
    await n.notify(alert(2));
    await n.idle();
    assert.deepEqual([n.stats.failed, n.stats.delivered], [1, 1]);
    assert.match(standIn.received[0]!.body.text, /alert 2/);
  });

  it('uses an injected render function', async () => {
    standIn.received = [];
    const n = new WebhookNotifier({ url: standIn.url, log, render: (a) => ({ text: `custom ${a.key}` }) });
    await n.notify(alert(1));
    await n.idle();
    assert.equal(standIn.received[0]!.body.text, 'custom failover:blue');
  });

  it('stops after the alert in flight, and logs the alerts it did not deliver', async () => {
    standIn.received = [];
    standIn.script = [reply(503), reply(503), reply(503)];
    const captured = capturedLogger();
    const n = new WebhookNotifier({ url: standIn.url, log: captured.log, backoffMs: 20 });
    await n.notify(alert(1));
    await n.notify(alert(2));
    await new Promise((r) => setTimeout(r, 10));
    n.stop();
    await n.idle();
    await new Promise((r) => setImmediate(r));
    assert.equal(n.stats.delivered, 0);
    const stopped = captured.lines().find((l) => l.includes('webhook notifier stopped with alerts not delivered'));
    assert.ok(stopped, 'the undelivered alerts are logged');
    assert.match(stopped, /alert 1/);
    assert.match(stopped, /alert 2/);
    standIn.script = [];
  });
});
