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

/** A Web API that fails with a network error while `down`, and records the text of each call it takes. */
function flakyApi() {
  let t = 1_000_000;
  const api = {
    down: true,
    delivered: [] as string[],
    now: () => t,
    // Each retry yields to the test, so it can flood while the head is being retried.
    sleep: async (ms: number) => {
      t += ms;
      await new Promise((r) => setImmediate(r));
    },
    call: (async (method, args) => {
      if (api.down) throw slackError('slack_webapi_request_error');
      api.delivered.push(method === 'chat.postMessage' ? String(args.text) : `${method} ${String(args.text)}`);
      return { ok: true, ts: String(api.delivered.length) };
    }) as ApiCall,
  };
  return api;
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

  it('with Slack down and a flood, keeps at most the maximum (audit lines go before alerts), and says what it dropped once delivery resumes', async () => {
    const api = flakyApi();
    const { delivered, sleep } = api;
    const logs = capturedLogger();
    const box = new Outbox({ call: api.call, log: logs.log, sleep, now: api.now, minIntervalMs: 0, backoffMs: 1000, maxBackoffMs: 1000, max: 10 });
    const post = (text: string, kind: 'alert' | 'info') => box.send('C1', () => ({ method: 'chat.postMessage', args: { channel: 'C1', text } }), { kind });
    const outcomes: Promise<unknown>[] = [];
    const alerts = Array.from({ length: 10 }, (_, i) => `alert ${i}`);
    for (const a of alerts.slice(0, 5)) outcomes.push(post(a, 'alert'));
    for (let i = 0; i < 50; i += 1) {
      outcomes.push(post(`audit ${i}`, 'info'));
      assert.ok(box.pending <= 10, `at most 10 wait (${box.pending})`);
      await sleep(0);
    }
    for (const a of alerts.slice(5)) {
      outcomes.push(post(a, 'alert'));
      assert.ok(box.pending <= 10, `at most 10 wait (${box.pending})`);
    }
    assert.equal(box.pending, 10);
    assert.equal(box.dropped, 50, 'every audit line went, no alert');
    assert.ok(logs.lines().some((l) => l.includes('outbox full')), 'the drops are logged');
    assert.deepEqual(delivered, []);

    api.down = false;
    await Promise.all(outcomes);
    await box.drain();
    // The first call that goes through is followed by the notice, then the rest in order.
    assert.equal(delivered.length, 11);
    assert.equal(delivered[0], 'alert 0');
    assert.match(delivered[1] ?? '', /^:warning: 50 messages were dropped while Slack was unreachable/);
    assert.deepEqual(delivered.slice(2), alerts.slice(1));
    assert.ok(logs.lines().some((l) => l.includes('"dropped":50')));

    // Nothing more to say once told; a later flood of alerts alone drops the oldest alerts.
    api.down = true;
    const more = Array.from({ length: 15 }, (_, i) => post(`late ${i}`, 'alert'));
    await sleep(0);
    assert.equal(box.pending, 10);
    api.down = false;
    await Promise.all(more);
    await box.drain();
    // At most one notice a minute while drops go on: the first was seconds ago, so this one comes once the queue has drained.
    assert.deepEqual(delivered.slice(11, -1), ['late 0', 'late 6', 'late 7', 'late 8', 'late 9', 'late 10', 'late 11', 'late 12', 'late 13', 'late 14']);
    assert.match(delivered.at(-1) ?? '', /^:warning: 5 messages were dropped/);
    assert.equal(box.dropped, 55);
  });

  it('drops a post together with the updates and replies that follow it, never them without it being sent', async () => {
    const api = flakyApi();
    const box = new Outbox({ call: api.call, log: capturedLogger().log, sleep: api.sleep, now: api.now, minIntervalMs: 0, max: 5 });
    const incident = {};
    const msg = (method: string, text: string) => () => ({ method, args: { text } });
    const results = [
      box.send('C1', msg('chat.postMessage', 'head')),
      box.send('C1', msg('chat.postMessage', 'incident'), { opens: incident }),
      box.send('C1', msg('chat.update', 'incident updated'), { follows: incident }),
      box.send('C1', msg('chat.postMessage', 'reply'), { follows: incident }),
      box.send('C1', msg('chat.postMessage', 'alert 2')),
      // Over the maximum: the oldest is the incident's post, which takes its update and reply along.
      box.send('C1', msg('chat.postMessage', 'alert 3')),
    ];
    assert.equal(box.pending, 3);
    assert.equal(box.dropped, 3);
    api.down = false;
    const answers = await Promise.all(results);
    await box.drain();
    assert.deepEqual(answers.map((a) => a !== undefined), [true, false, false, false, true, true], 'a dropped send resolves with undefined');
    assert.deepEqual(api.delivered, ['head', ':warning: 3 messages were dropped while Slack was unreachable or slow (audit lines first, then the oldest alerts). The bot\'s log has every alert, STATE_DIR/audit.jsonl every operation.', 'alert 2', 'alert 3']);
  });
});
