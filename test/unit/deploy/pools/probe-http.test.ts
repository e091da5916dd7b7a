// probeHttp against real local servers: what a probe of a pool target tells apart (gone, hung,
// failing, fine), that it never follows a redirect or reads a body without bound, and that a bot
// starved of CPU does not take an answer that came in time for a timeout.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, get, type Server } from 'node:http';
import { createServer as createNetServer, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { probeHttp, type HttpProbe } from '../../../../src/deploy/pools/probe-http.js';

async function listen(server: Server): Promise<URL> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  return new URL(`http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/healthz`);
}

const OPTS = { connectTimeoutMs: 300, timeoutMs: 600 };

describe('probeHttp', () => {
  const asked: { url: string | undefined; host: string | undefined }[] = [];
  const ok = createServer((req, res) => {
    asked.push({ url: req.url, host: req.headers.host });
    res.end('{"status":"ok"}');
  });
  const failing = createServer((_req, res) => res.writeHead(503).end('{"status":"chaos","chaos":"error"}'));
  const redirect = createServer((_req, res) => res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end());
  const huge = createServer((_req, res) => {
    res.writeHead(200);
    // 1 MiB, more than anyone should read from a health check.
    res.end(Buffer.alloc(1024 * 1024, 'x'));
  });
  const hung = createServer(() => undefined);
  const urls: Record<string, URL> = {};
  let closed: URL;

  before(async () => {
    for (const [name, s] of Object.entries({ ok, failing, redirect, huge, hung })) urls[name] = await listen(s);
    const srv = createNetServer().listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const addr = srv.address();
    await new Promise((r) => srv.close(r));
    closed = new URL(`http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/healthz`);
  });

  after(() => {
    hung.closeAllConnections();
    for (const s of [ok, failing, redirect, huge, hung]) s.close();
  });

  it('healthy: a 2xx, with the body, the Host asked for', async () => {
    const p = await probeHttp(urls.ok!, { ...OPTS, hostHeader: 'shop.example' });
    assert.equal(p.outcome, 'healthy');
    assert.equal(p.detail, 'HTTP 200');
    assert.equal(p.body, '{"status":"ok"}');
    assert.deepEqual(asked.at(-1), { url: '/healthz', host: 'shop.example' });
  });

  it('unhealthy: another status; the expected statuses can be set', async () => {
    const p = await probeHttp(urls.failing!, OPTS);
    assert.deepEqual([p.outcome, p.status, p.detail], ['unhealthy', 503, 'HTTP 503']);
    assert.match(p.body ?? '', /"chaos":"error"/);
    assert.equal((await probeHttp(urls.failing!, { ...OPTS, expect: (s) => s === 503 })).outcome, 'healthy');
  });

  it('never follows a redirect: a 3xx is just a status', async () => {
    const p = await probeHttp(urls.redirect!, OPTS);
    assert.deepEqual([p.outcome, p.status], ['unhealthy', 302]);
  });

  it('reads at most maxBodyBytes of a body', async () => {
    const p = await probeHttp(urls.huge!, { ...OPTS, maxBodyBytes: 1000 });
    assert.equal(p.outcome, 'healthy');
    assert.equal(p.body?.length, 1000);
  });

  it('unreachable: a refused connection, at once', async () => {
    const p = await probeHttp(closed, OPTS);
    assert.deepEqual([p.outcome, p.detail], ['unreachable', 'no answer: ECONNREFUSED']);
    assert.ok(p.ms < 200, `${p.ms} ms`);
  });

  it('unreachable: no handshake within the connect timeout (packets to a vanished node are dropped)', async () => {
    // A socket that stays connecting stands in for an address whose packets vanish.
    const never = () => Object.assign(new Socket(), { connecting: true });
    const p = await probeHttp(new URL('http://127.0.0.1:9/healthz'), { ...OPTS, createConnection: never });
    assert.deepEqual([p.outcome, p.detail], ['unreachable', 'no connection within 300 ms']);
    assert.ok(p.ms >= 290 && p.ms < 600, `${p.ms} ms`);
  });

  it('slow: connected, but no answer in time (a hung task, or a very busy one), never unreachable', async () => {
    const p = await probeHttp(urls.hung!, OPTS);
    assert.deepEqual([p.outcome, p.detail], ['slow', 'connected, no answer within 600 ms']);
  });

  it('a bot starved of CPU past both deadlines does not take the connection it made for a vanished task', async () => {
    // The probe starts from an I/O callback (the bot's loops run from sockets and timers) and the
    // event loop is then held past both deadlines. The kernel completes the handshake meanwhile (the
    // server is in this process, so it cannot answer): when the loop runs again, both timers and
    // the socket's connect are due together, and timers run first.
    const probing = await new Promise<Promise<HttpProbe>>((resolve) => {
      get(urls.ok!, (res) => {
        res.resume();
        res.once('data', () => {
          const p = probeHttp(urls.ok!, { connectTimeoutMs: 20, timeoutMs: 40 });
          const until = Date.now() + 150;
          while (Date.now() < until) {
            // busy
          }
          resolve(p);
        });
      });
    });
    const p = await probing;
    // Without the guard this is 'unreachable': the connect timer ran before the connect event.
    assert.deepEqual([p.outcome, p.detail], ['slow', 'connected, no answer within 40 ms']);
  });
});
