import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { guardSlackRequests, REFUSAL_LOG_EVERY_MS, type RefusalReason } from '../../../src/bot/guard-slack-requests.js';
import { HttpServer } from '../../../src/http-server.js';
import { postSigned } from '../../support/slack-stand-in.js';
import { capturedLogger, rawPost } from './fixtures.js';

// The guard's limits across requests (issue 20): the bytes all unverified requests hold together,
// and one warn line per refusal reason however many arrive. The guard alone on the real listener,
// in front of a handler that answers 200, with raw sockets playing many slow senders at once.

const SECRET = 'guard-signing-secret-7';
const PATH = '/slack/events';
const FORM = 'application/x-www-form-urlencoded';
const nowSec = () => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A form body of exactly `bytes` bytes that the guard's body check lets through, a new one each time (no replay). */
let bodies = 0;
const padded = (bytes: number) => {
  const n = `n=${++bodies}&pad=`;
  return `${n}${'a'.repeat(bytes - n.length)}`;
};

/** The guard on its own listener; `arrived` counts requests that reached it (it reserves synchronously). */
async function startGuard(opts: { maxBodyBytes?: number; maxUnverifiedBytes?: number; now?: () => number }) {
  const logs = capturedLogger('debug');
  const refused: RefusalReason[] = [];
  const http = new HttpServer(logs.log);
  const guard = guardSlackRequests((_req, res) => void res.writeHead(200).end('ok'), { signingSecret: SECRET, log: logs.log, onRefused: (r) => refused.push(r), ...opts });
  let arrived = 0;
  http.route('POST', PATH, (req, res) => {
    arrived += 1;
    return guard(req, res);
  });
  const { port } = await http.listen(0, '127.0.0.1');
  return { http, port, url: `http://127.0.0.1:${port}${PATH}`, logs, refused, arrived: () => arrived };
}

/**
 * A POST whose head promises `contentLength` bytes (chunked when undefined) and whose body never
 * comes in full: the sender that holds its share of memory until it leaves or is answered.
 */
const holders: Socket[] = [];
function holdOpen(port: number, contentLength: number | undefined, firstBytes = 100): { status: () => number; leave: () => void } {
  const socket: Socket = connect(port, '127.0.0.1');
  holders.push(socket);
  let data = '';
  socket.setEncoding('latin1');
  socket.on('data', (c: string) => (data += c));
  socket.on('error', () => undefined);
  const length = contentLength === undefined ? 'Transfer-Encoding: chunked' : `Content-Length: ${contentLength}`;
  const head = `POST ${PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${FORM}\r\nX-Slack-Request-Timestamp: ${nowSec()}\r\nX-Slack-Signature: v0=${'d'.repeat(64)}\r\n${length}\r\n\r\n`;
  const body = 'a'.repeat(firstBytes);
  socket.write(head + (contentLength === undefined ? `${firstBytes.toString(16)}\r\n${body}\r\n` : body));
  return {
    status: () => Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0),
    leave: () => socket.destroy(),
  };
}

describe('the guard: bytes held by unverified requests, across connections', () => {
  // 100 KB for everyone unverified; a body may be 40 KB: two slow senders at the full size leave
  // room for 20 KB more.
  let g: Awaited<ReturnType<typeof startGuard>>;
  before(async () => {
    g = await startGuard({ maxBodyBytes: 40_000, maxUnverifiedBytes: 100_000 });
  });
  after(async () => {
    for (const s of holders) s.destroy();
    await g.http.close();
  });

  const signed = (bytes: number) => postSigned({ url: g.url, secret: SECRET, body: padded(bytes) });
  const unsigned = (contentLength: number) =>
    rawPost({ url: g.url, headers: { 'content-type': FORM, 'x-slack-request-timestamp': String(nowSec()), 'x-slack-signature': `v0=${'e'.repeat(64)}` }, contentLength, chunks: ['a'], timeoutMs: 2000 });

  it('answers 503 busy with Retry-After and Connection: close, without reading the body, to a request past the cap; serves again once a holder leaves', async () => {
    const a = holdOpen(g.port, 40_000);
    const b = holdOpen(g.port, 40_000);
    await until('both slow senders to reach the guard', () => g.arrived() === 2);
    // 80 KB held: another 40 KB would pass the cap. One byte of its body is sent, never the rest:
    // only an answer that does not wait for it can come back.
    const busy = await unsigned(40_000);
    assert.equal(busy.status, 503);
    assert.equal(busy.headers['retry-after'], '10');
    assert.equal(busy.headers.connection, 'close');
    assert.ok(busy.closed, 'the server closed the connection');
    assert.ok(busy.ms < 1500, `answered in ${busy.ms} ms`);
    // Chunked, a body may grow to the 40 KB limit: it is counted at that.
    const chunked = holdOpen(g.port, undefined);
    await until('the chunked request to be answered', () => chunked.status() !== 0);
    assert.equal(chunked.status(), 503);
    chunked.leave();
    // Bytes, not requests: a small one still fits beside the two holders.
    assert.equal((await signed(1000)).status, 200);
    assert.deepEqual([a.status(), b.status()], [0, 0], 'the holders are still being read');
    a.leave();
    // The guard learns of it when the socket closes: a moment after leave().
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await signed(40_000)).status;
      if (status === 503) await sleep(20);
    }
    assert.equal(status, 200, 'the bytes of the client that left are free again');
    b.leave();
    assert.deepEqual(g.refused.filter((r) => r === 'busy').length, 2);
  });

  it('frees the bytes of a request once it is verified, and once it is refused', async () => {
    const a = holdOpen(g.port, 40_000);
    const arrived = g.arrived();
    await until('the slow sender to reach the guard', () => g.arrived() === arrived + 1);
    // 40 KB held, 60 KB free: one 40 KB request at a time, again and again, never two.
    for (let i = 0; i < 5; i++) assert.equal((await signed(40_000)).status, 200, `signed #${i}`);
    for (let i = 0; i < 5; i++) {
      const res = await postSigned({ url: g.url, secret: 'not-the-secret', body: padded(40_000) });
      assert.equal(res.status, 401, `wrong signature #${i}`);
    }
    a.leave();
  });
});

describe('the guard: refusals in the log', () => {
  it('writes one warn line per reason per 10 s, the next one saying how many were left out; the counter counts every one', async () => {
    let clock = Date.now();
    const g = await startGuard({ now: () => clock });
    try {
      const noHeaders = () => rawPost({ url: g.url, headers: { 'content-type': FORM }, chunks: ['x=1'] });
      const outOfWindow = () =>
        rawPost({ url: g.url, headers: { 'content-type': FORM, 'x-slack-request-timestamp': String(Math.floor(clock / 1000) - 3600), 'x-slack-signature': `v0=${'f'.repeat(64)}` }, chunks: ['x=1'] });
      const refusedLines = () => g.logs.lines().map((l) => JSON.parse(l) as { level: string; msg: string; reason: string; suppressed?: number }).filter((l) => l.msg === 'slack request refused');

      for (let i = 0; i < 5; i++) assert.equal((await noHeaders()).status, 401);
      for (let i = 0; i < 3; i++) assert.equal((await outOfWindow()).status, 401);
      assert.equal(g.refused.length, 8, 'every refusal is counted');
      assert.deepEqual(
        refusedLines().map((l) => [l.reason, l.suppressed]),
        [
          ['bad_headers', undefined],
          ['out_of_window', undefined],
        ],
      );
      assert.ok(refusedLines().every((l) => l.level === 'warn'));

      clock += REFUSAL_LOG_EVERY_MS - 1;
      await noHeaders();
      assert.equal(refusedLines().length, 2, 'still within 10 s of the first line');
      clock += 1;
      await noHeaders();
      await noHeaders();
      assert.deepEqual(
        refusedLines().map((l) => [l.reason, l.suppressed]),
        [
          ['bad_headers', undefined],
          ['out_of_window', undefined],
          ['bad_headers', 5],
        ],
      );
      assert.equal(g.refused.length, 11);
    } finally {
      await g.http.close();
    }
  });
});
