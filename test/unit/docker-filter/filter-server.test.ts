// The Docker API filter as a server, on raw sockets: a small stand-in for Docker's socket records
// what reached it. What the HTTP parser must not let through: chunked bodies re-sent as they were,
// two lengths, a length with chunking, pipelined requests past the check, a body over the cap, a
// length that lies, an upgrade other than exec start.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFilterServer, MAX_BODY_BYTES } from '../../../src/docker-filter/filter-server.js';
import { captureLogger } from '../deploy/fakes.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** Everything the server answers to `request`, written as it is, until it closes (bounded). */
function raw(port: number, request: string | Buffer, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(data);
    }, timeoutMs);
    socket.on('connect', () => socket.write(request));
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (data += c));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
    socket.on('error', () => undefined);
  });
}

describe('docker filter server (raw HTTP against a stand-in Docker socket)', () => {
  let dir: string;
  let docker: Server;
  let filter: Server;
  let port: number;
  const seen: Seen[] = [];
  const log = captureLogger();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bg-filter-'));
    const socketPath = join(dir, 'docker.sock');
    docker = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ ok: req.url }));
      });
    });
    docker.on('upgrade', (req: IncomingMessage, socket) => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: '' });
      socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
      socket.end('exec output');
    });
    await new Promise<void>((r) => docker.listen(socketPath, r));
    filter = createFilterServer({
      upstreamSocket: socketPath,
      mode: 'compose',
      log: log.log,
      checks: {
        project: 'shop',
        mode: 'compose',
        chaosNetImage: 'bluegreen-chaos-net:local',
        containerLabels: async (id) =>
          id === 'nginx1' ? { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'nginx' } : id === 'abc' ? { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'app_blue' } : undefined,
        network: async (id) => (id === 'shop_default' ? { labels: { 'com.docker.compose.project': 'shop' }, containers: [] } : undefined),
        service: async () => undefined,
      },
    });
    await new Promise<void>((r) => filter.listen(0, '127.0.0.1', r));
    port = (filter.address() as AddressInfo).port;
  });

  after(async () => {
    await new Promise((r) => filter.close(r));
    await new Promise((r) => docker.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  const since = () => seen.length;

  it('an allowed call reaches Docker and its answer comes back; a refused one gets 403 with the reason, is logged, and reaches nothing', async () => {
    const n = since();
    const okAnswer = await raw(port, 'GET /v1.41/containers/json?all=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(okAnswer, /^HTTP\/1\.1 200/);
    assert.match(okAnswer, /"ok":"\/v1\.41\/containers\/json\?all=1"/);
    const privileged = JSON.stringify({ Image: 'alpine', HostConfig: { Privileged: true, Binds: ['/:/host'] } });
    const no = await raw(port, `POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${privileged.length}\r\nConnection: close\r\n\r\n${privileged}`);
    assert.match(no, /^HTTP\/1\.1 403/);
    assert.match(no, /bluegreen docker filter: POST \/containers\/create: HostConfig\.Privileged is not allowed/);
    const swarm = await raw(port, 'GET /swarm HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(swarm, /^HTTP\/1\.1 403[\s\S]*GET \/swarm is not a call the bot makes/);
    assert.deepEqual(seen.slice(n).map((s) => `${s.method} ${s.url}`), ['GET /v1.41/containers/json?all=1']);
    assert.ok(log.lines().some((l) => l.msg === 'docker call refused' && String(l.target) === '/swarm'));
  });

  it("dockerode's copies of the body's fields in the query pass with the body; any other query parameter does not", async () => {
    const n = since();
    const body = JSON.stringify({ Image: 'app:v2', Labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'app_blue' } });
    const ok = await raw(port, `POST /containers/create?name=x&Image=app%3Av2&Labels=%7B%7D&Cmd= HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    assert.match(ok, /^HTTP\/1\.1 200/);
    const stray = await raw(port, `POST /containers/create?name=x&platform=linux HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    assert.match(stray, /^HTTP\/1\.1 403[\s\S]*query parameter \\"platform\\" is not allowed/);
    assert.deepEqual(seen.slice(n).map((s) => s.url), ['/containers/create?name=x&Image=app%3Av2&Labels=%7B%7D&Cmd=']);
  });

  it('a chunked body is checked whole and reaches Docker with its exact length, no chunking', async () => {
    const n = since();
    const body = JSON.stringify({ Container: 'abc', EndpointConfig: { Aliases: ['app_blue'] } });
    const half = Math.floor(body.length / 2);
    const chunked = `${half.toString(16)}\r\n${body.slice(0, half)}\r\n${(body.length - half).toString(16)}\r\n${body.slice(half)}\r\n0\r\n\r\n`;
    const a = await raw(port, `POST /networks/shop_default/connect HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunked}`);
    assert.match(a, /^HTTP\/1\.1 200/);
    const got = seen.slice(n)[0]!;
    assert.equal(got.body, body);
    assert.equal(got.headers['content-length'], String(body.length));
    assert.equal(got.headers['transfer-encoding'], undefined);
  });

  it('ambiguous framing is refused by the parser: two lengths, a length with chunking; nothing reaches Docker', async () => {
    const n = since();
    const two = await raw(port, 'POST /containers/abc/start HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 40\r\nConnection: close\r\n\r\n');
    assert.match(two, /^HTTP\/1\.1 400/);
    const both = await raw(port, 'POST /containers/abc/start HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n');
    assert.match(both, /^HTTP\/1\.1 400/);
    assert.equal(seen.length, n);
  });

  it('pipelined requests are each judged: the allowed one answered, the next refused, only the first reaches Docker', async () => {
    const n = since();
    const a = await raw(port, 'GET /containers/abc/json HTTP/1.1\r\nHost: x\r\n\r\nGET /secrets HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const statuses = [...a.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '403']);
    assert.deepEqual(seen.slice(n).map((s) => s.url), ['/containers/abc/json']);
  });

  it('a body over the cap gets 413; a length that promises more than is sent reaches nothing', async () => {
    const n = since();
    const big = await raw(port, Buffer.concat([Buffer.from(`POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: ${MAX_BODY_BYTES + 1}\r\nConnection: close\r\n\r\n`), Buffer.alloc(MAX_BODY_BYTES + 1, 32)]));
    assert.match(big, /^HTTP\/1\.1 413/);
    const lying = await raw(port, 'POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{"Image":"x"}', 1000);
    assert.equal(lying, '', 'no answer while the promised body has not come');
    assert.equal(seen.length, n);
  });

  it('exec start may upgrade the connection (output streams back); any other upgrade, or a shell exec, is refused', async () => {
    const n = since();
    const body = '{"Detach":false,"Tty":false}';
    const a = await raw(port, `POST /v1.41/exec/e1/start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    assert.match(a, /^HTTP\/1\.1 101 UPGRADED[\s\S]*exec output$/);
    const attach = await raw(port, 'POST /containers/abc/attach?stream=1&stdin=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n');
    assert.match(attach, /^HTTP\/1\.1 403[\s\S]*is not a call the bot makes/);
    const shell = JSON.stringify({ Cmd: ['sh'], AttachStdin: true, Tty: true });
    const exec = await raw(port, `POST /containers/nginx1/exec HTTP/1.1\r\nHost: x\r\nContent-Length: ${shell.length}\r\nConnection: close\r\n\r\n${shell}`);
    assert.match(exec, /^HTTP\/1\.1 403[\s\S]*not one of the bot's nginx commands/);
    assert.deepEqual(seen.slice(n).map((s) => `${s.method} ${s.url} ${String(s.headers.upgrade)}`), ['POST /v1.41/exec/e1/start tcp']);
  });
});
