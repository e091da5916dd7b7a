import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Outbox, type ApiCall } from '../../../src/bot/outbox.js';
import { capturedLogger } from './fixtures.js';

/** A virtual clock: sleep advances time at once, so "30 s of outage" takes no real time. */
function clock() {
  let t = 1_000_000;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    sleeps,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

const slackError = (code: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(code), { code, ...extra });

describe('Outbox', () => {
  it('keeps order per channel through 30 s of outage, 5xx and a 429, dropping nothing', async () => {
    const c = clock();
    const outageUntil = c.now() + 30_000;
    const delivered: string[] = [];
    let rateLimited = false;
    let failed5xx = 0;
    const call: ApiCall = async (_method, args) => {
      if (c.now() < outageUntil) throw slackError('slack_webapi_request_error');
      if (failed5xx < 2) {
        failed5xx += 1;
        throw slackError('slack_webapi_http_error', { statusCode: 503 });
      }
      if (!rateLimited) {
        rateLimited = true;
        throw slackError('slack_webapi_rate_limited_error', { retryAfter: 7 });
      }
      delivered.push(String(args.text));
      return { ok: true, ts: String(delivered.length) };
    };
    const box = new Outbox({ call, log: capturedLogger().log, sleep: c.sleep, now: c.now, backoffMs: 500, maxBackoffMs: 4000 });
    const sent = Array.from({ length: 20 }, (_, i) => box.send('C1', () => ({ method: 'chat.postMessage', args: { channel: 'C1', text: `alert ${i}` } })));
    await Promise.all(sent);
    assert.deepEqual(delivered, Array.from({ length: 20 }, (_, i) => `alert ${i}`));
    assert.ok(c.sleeps.includes(7000), 'Retry-After of 7 s honoured');
    assert.ok(Math.max(...c.sleeps) <= 7000, 'backoff capped');
    assert.equal(box.pending, 0);
  });

  it('paces each channel to one call per interval, channels independently', async () => {
    const c = clock();
    const at: Record<string, number[]> = { A: [], B: [] };
    const call: ApiCall = async (_m, args) => {
      at[String(args.channel)]?.push(c.now());
      return { ok: true };
    };
    const box = new Outbox({ call, log: capturedLogger().log, sleep: c.sleep, now: c.now, minIntervalMs: 1000 });
    await Promise.all([
      ...[1, 2, 3].map(() => box.send('A', () => ({ method: 'chat.postMessage', args: { channel: 'A', text: 'x' } }))),
      ...[1, 2].map(() => box.send('B', () => ({ method: 'chat.postMessage', args: { channel: 'B', text: 'x' } }))),
    ]);
    for (const times of Object.values(at)) {
      for (let i = 1; i < times.length; i += 1) assert.ok((times[i] as number) - (times[i - 1] as number) >= 1000);
    }
    assert.equal(at.A?.length, 3);
  });

  it('builds a message when it reaches the head, so an update sees the ts its post returned', async () => {
    let ts: string | undefined;
    const calls: Record<string, unknown>[] = [];
    const call: ApiCall = async (method, args) => {
      calls.push({ method, ...args });
      return { ok: true, ts: '111.222' };
    };
    const box = new Outbox({ call, log: capturedLogger().log, minIntervalMs: 0 });
    const post = box.send('C', () => ({ method: 'chat.postMessage', args: { text: 'first' } })).then((a) => {
      ts = String(a?.ts);
    });
    const update = box.send('C', () => (ts === undefined ? undefined : { method: 'chat.update', args: { ts } }));
    await Promise.all([post, update]);
    assert.deepEqual(calls[1], { method: 'chat.update', ts: '111.222' });
  });

  it('sends the text alone when Slack rejects the blocks, and gives up on errors that never pass', async () => {
    const seen: Record<string, unknown>[] = [];
    const call: ApiCall = async (_m, args) => {
      seen.push(args);
      if (args.channel === 'C_GONE') throw slackError('slack_webapi_platform_error', { data: { ok: false, error: 'channel_not_found' } });
      if (args.blocks !== undefined) throw slackError('slack_webapi_platform_error', { data: { ok: false, error: 'invalid_blocks' } });
      return { ok: true };
    };
    const logs = capturedLogger();
    const box = new Outbox({ call, log: logs.log, minIntervalMs: 0 });
    await box.send('C', () => ({ method: 'chat.postMessage', args: { channel: 'C', text: 'fallback', blocks: [{ type: 'bogus' }] } }));
    assert.deepEqual(seen.at(-1), { channel: 'C', text: 'fallback' });
    await assert.rejects(box.send('C_GONE', () => ({ method: 'chat.postMessage', args: { channel: 'C_GONE', text: 'x' } })), /channel_not_found/);
    assert.ok(logs.lines().some((l) => l.includes('giving up on this message')));
  });
});
