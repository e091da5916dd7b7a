import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { HTTP_TIMEOUTS, HttpServer, type HttpTimeouts } from '../../src/http-server.js';
import { createLogger } from '../../src/log.js';
import { rawExchange } from '../support/raw-http.js';

// The listener's own timeouts (issue 20): a client that sends its headers or its body slowly is cut
// off with 408 after seconds, not minutes, while a connection idle between requests stays open for
// keep-alive. The slow sender holds a connection and what it sent so far; without these, Node's
// defaults (60 s for headers, 5 min for a request) let a few hundred of them sit for minutes.

const log = createLogger({ level: 'silent' });

async function listening(timeouts?: HttpTimeouts): Promise<{ http: HttpServer; port: number }> {
  const http = timeouts ? new HttpServer(log, timeouts) : new HttpServer(log);
  http.route('GET', '/ping', (_req, res) => void res.writeHead(200, { 'content-length': '4' }).end('pong'));
  http.route('POST', '/read', (req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-length': '2' }).end('ok'));
  });
  const { port } = await http.listen(0, '127.0.0.1');
  return { http, port };
}

/** Write `first` and keep the connection open: resolves with what came back and when the server closed it. */
function slowSender(port: number, first: string, timeoutMs: number): Promise<{ status: number; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1', () => socket.write(first));
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (data += c));
    socket.on('error', () => undefined);
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0), ms: Date.now() - started });
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('close', done);
  });
}

describe('HttpServer timeouts', () => {
  const short: HttpTimeouts = { headersTimeoutMs: 300, requestTimeoutMs: 600 };

  const slow: [string, string, number][] = [
    ['headers do not arrive within headersTimeout', 'GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ', short.headersTimeoutMs],
    ['body does not arrive within requestTimeout', 'POST /read HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nabc', short.requestTimeoutMs],
  ];
  for (const [what, first, timeoutMs] of slow) {
    it(`answers 408 and closes a connection whose ${what}`, async () => {
      const { http, port } = await listening(short);
      try {
        const r = await slowSender(port, first, 3000);
        assert.equal(r.status, 408);
        assert.ok(r.ms >= timeoutMs && r.ms < timeoutMs + 1200, `cut after ${r.ms} ms`);
      } finally {
        await http.close();
      }
    });
  }

  it('keeps an idle keep-alive connection open past both timeouts, and serves its next request', async () => {
    const { http, port } = await listening(short);
    try {
      const socket = connect(port, '127.0.0.1');
      let data = '';
      socket.setEncoding('latin1');
      socket.on('data', (c: string) => (data += c));
      const ping = 'GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
      socket.write(ping);
      await new Promise((r) => setTimeout(r, 1000));
      assert.ok(!socket.destroyed, 'still open after 1 s idle');
      socket.write(ping);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(data.match(/HTTP\/1\.1 200/g)?.length, 2);
      socket.destroy();
    } finally {
      await http.close();
    }
  });

  it('by default cuts slow headers after about 10 s (Node alone waits 60 s, and checks every 30 s)', async () => {
    assert.ok(HTTP_TIMEOUTS.headersTimeoutMs <= HTTP_TIMEOUTS.requestTimeoutMs, 'Node refuses headers > request');
    const { http, port } = await listening();
    try {
      const r = await slowSender(port, 'GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n', 14_000);
      assert.equal(r.status, 408);
      assert.ok(r.ms >= HTTP_TIMEOUTS.headersTimeoutMs && r.ms < HTTP_TIMEOUTS.headersTimeoutMs + 2000, `cut after ${r.ms} ms`);
      // The listener still serves.
      assert.equal((await rawExchange(port, 'GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')).status, 200);
    } finally {
      await http.close();
    }
  });
});
