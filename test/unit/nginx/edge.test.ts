// The two nginx masters of the nginx image, from the real templates, on the host's nginx (no Docker):
// the edge (nginx/edge.conf.template) on a TCP port, the inner (nginx/nginx.conf.template) on its unix
// socket, and a small app as both pools. What the tests prove:
// - an inner reload (bluegreen-nginx-members reload, as the bot does it) under a keep-alive load of
//   GETs and of POSTs costs no request, and no POST reaches the app twice;
// - the app and the access log see each request as they did when the inner faced clients itself
//   (a third master: the inner template listening on a TCP port), the client's address included.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runSampledLoad, summarizeSamples } from '../../e2e/support/load.js';
import { rawExchange } from '../../support/raw-http.js';
import { freePort, NGINX, quitNginx, runFile, skipWithoutNginx } from './support/host-nginx.js';

const nginxDir = (file: string) => fileURLToPath(new URL(`../../../nginx/${file}`, import.meta.url));
const RELOADS = 10;
const RATE = 200;

/**
 * Both pools: answers every request with what it saw of it (Seen), and counts the POSTs to /load;
 * GET /posts tells the count. Prints its address when it listens.
 */
const APP = `
const { createServer } = require('node:http');
const { createHash } = require('node:crypto');
let posts = 0;
const server = createServer((req, res) => {
  const hash = createHash('sha256');
  let bytes = 0;
  req.on('data', (chunk) => { bytes += chunk.length; hash.update(chunk); });
  req.on('end', () => {
    if (req.url === '/posts') return res.end(String(posts));
    if (req.method === 'POST' && req.url === '/load') posts += 1;
    const seen = JSON.stringify({ method: req.method, url: req.url, httpVersion: req.httpVersion, headers: req.headers, bodyBytes: bytes, bodySha256: hash.digest('hex') });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(seen), 'x-app': 'seen', 'x-app-pool': 'blue', 'x-release-id': 'blue-v1' });
    res.end(seen);
  });
});
server.keepAliveTimeout = 75000;
server.listen(0, '127.0.0.1', () => console.log('127.0.0.1:' + server.address().port));
`;

/** What the app saw of one request, as it answers it. */
interface Seen {
  method: string;
  url: string;
  httpVersion: string;
  headers: IncomingHttpHeaders;
  bodyBytes: number;
  bodySha256: string;
}

describe('the edge in front of the inner nginx, with the host nginx', { skip: skipWithoutNginx, timeout: 120_000 }, () => {
  let dir: string;
  let edgePort: number;
  let singlePort: number;
  let env: NodeJS.ProcessEnv;
  let appProcess: ChildProcess | undefined;
  let appUrl: string;
  /** POSTs the app received on /load so far. */
  const appPosts = async (): Promise<number> => Number(await (await fetch(`${appUrl}/posts`)).text());
  /** Each master as `nginx -p … -c …`, and its pid file. */
  const masters: { args: string[]; pid: string }[] = [];

  /**
   * A template as entrypoint.sh renders it (the defaults of docker-compose.yml), with nginx's
   * runtime folder, the upstreams include and the error log moved into `dir`.
   */
  async function render(template: string, out: string, values: Record<string, string>, runDir: string, errorLog: string): Promise<void> {
    let text = (await readFile(nginxDir(template), 'utf8')).replaceAll('/tmp/nginx/', `${runDir}/`);
    text = text.replace('/etc/nginx/bluegreen-upstreams.conf', join(dir, 'upstreams.conf'));
    // A daemon's stderr would keep the test's pipe open: each master writes a file instead.
    text = text.replace('error_log /dev/stderr warn;', `error_log ${errorLog} notice;`);
    for (const [name, value] of Object.entries(values)) text = text.replaceAll(`@${name}@`, value);
    const unfilled = text.split('\n').filter((l) => !l.trim().startsWith('#') && /@[A-Z_]+@/.test(l));
    assert.deepEqual(unfilled, [], `${template}: a placeholder this test does not fill`);
    await writeFile(out, text);
  }

  async function start(conf: string, pid: string): Promise<void> {
    const args = ['-p', `${dir}/`, '-c', conf];
    const r = await runFile(NGINX!, args);
    assert.equal(r.code, 0, r.stderr);
    masters.push({ args, pid });
  }

  /** One raw request to a port; the app's JSON when it answered, else the status and body. */
  async function send(port: number, request: string): Promise<{ status: number; seen?: Seen; body: string }> {
    const answer = await rawExchange(port, request);
    const seen = answer.head.includes('x-app: seen') && answer.body !== '' ? (JSON.parse(answer.body) as Seen) : undefined;
    return { status: answer.status, seen, body: answer.body };
  }

  const logLines = async (logDir: string): Promise<string[]> => (await readFile(join(logDir, 'access.json.log'), 'utf8')).split('\n').filter(Boolean);

  /**
   * One raw request, and the access-log line nginx wrote for it into `logDir` (it may write it just
   * after the client saw the connection close: waited for, 2 s at most).
   */
  async function sendAndLog(port: number, logDir: string, request: string): Promise<{ answer: Awaited<ReturnType<typeof send>>; line: Record<string, unknown> }> {
    const before = (await logLines(logDir)).length;
    const answer = await send(port, request);
    const deadline = Date.now() + 2000;
    let lines = await logLines(logDir);
    while (lines.length <= before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      lines = await logLines(logDir);
    }
    assert.equal(lines.length, before + 1, `one access-log line for ${request.split('\r\n')[0]}`);
    return { answer, line: JSON.parse(lines.at(-1)!) as Record<string, unknown> };
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bg-edge-'));
    // The workers (nobody) reach the inner's socket inside it, as in the image's /tmp/nginx.
    await chmod(dir, 0o755);
    for (const sub of ['run', 'run-single', 'state', 'log', 'log-single', 'bin']) await mkdir(join(dir, sub));
    // The app runs in a process of its own: in this one it would share the event loop with the
    // load, and answer late under it.
    appProcess = spawn(process.execPath, ['-e', APP], { stdio: ['ignore', 'pipe', 'inherit'] });
    const address = await new Promise<string>((resolve, reject) => {
      appProcess!.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
      appProcess!.once('exit', (code) => reject(new Error(`the app exited (${code})`)));
    });
    appUrl = `http://${address}`;
    edgePort = await freePort();
    singlePort = await freePort();

    // bluegreen-nginx-members renders the groups and reloads the inner, as in the image; its
    // `nginx` is the host's with the inner's files.
    const innerConf = join(dir, 'nginx.conf');
    await writeFile(join(dir, 'bin', 'nginx'), `#!/bin/sh\nexec ${NGINX} -p ${dir}/ -c ${innerConf} "$@"\n`, { mode: 0o755 });
    env = {
      PATH: `${join(dir, 'bin')}${delimiter}${process.env.PATH ?? '/usr/bin:/bin'}`,
      BLUEGREEN_MEMBERS_DIR: join(dir, 'state'),
      BLUEGREEN_UPSTREAMS_CONF: join(dir, 'upstreams.conf'),
      BLUEGREEN_NGINX_PID: join(dir, 'run', 'nginx.pid'),
    };
    await writeFile(join(dir, 'state', 'members-blue'), `${address}\n`);
    await writeFile(join(dir, 'state', 'members-green'), `${address}\n`);
    const rendered = await runFile('sh', [nginxDir('bluegreen-nginx-members.sh'), 'render'], env);
    assert.equal(rendered.code, 0, rendered.stderr);

    const inner = {
      PROXY_CONNECT_TIMEOUT: '250ms',
      // Not the 800ms default: on a busy machine the app alone can take that long, and a POST that
      // times out is the inner's 504, which says nothing about reloads.
      PROXY_READ_TIMEOUT: '5s',
      PROXY_NEXT_UPSTREAM_TIMEOUT: '5s',
      MAINTENANCE_RETRY_AFTER: '300',
      STATE_DIR: join(dir, 'state'),
      PROBE_TOKEN: '0123456789abcdef',
      POOL_HEADER_PUBLIC: '$bg_pool_known',
    };
    await render('nginx.conf.template', innerConf, { ...inner, LOG_DIR: join(dir, 'log') }, join(dir, 'run'), join(dir, 'inner-error.log'));
    // entrypoint.sh's sum for these timeouts: 5s + 250ms + 2 x 5s + 10s.
    await render('edge.conf.template', join(dir, 'edge.conf'), { PORT: `127.0.0.1:${edgePort}`, EDGE_TIMEOUT: '25250ms' }, join(dir, 'run'), join(dir, 'edge-error.log'));
    // One tier, as before the edge: the inner template on a TCP port of its own.
    const singleConf = join(dir, 'single.conf');
    // ... with POOL_HEADER=off (entrypoint.sh renders the public default as ""): the pool header goes to probes only.
    await render('nginx.conf.template', singleConf, { ...inner, POOL_HEADER_PUBLIC: '""', LOG_DIR: join(dir, 'log-single') }, join(dir, 'run-single'), join(dir, 'single-error.log'));
    const single = await readFile(singleConf, 'utf8');
    assert.ok(single.includes(`listen unix:${join(dir, 'run-single')}/inner.sock;`));
    await writeFile(singleConf, single.replace(/listen unix:\S+;/, `listen 127.0.0.1:${singlePort};`));

    await start(innerConf, join(dir, 'run', 'nginx.pid'));
    await start(join(dir, 'edge.conf'), join(dir, 'run', 'edge.pid'));
    await start(singleConf, join(dir, 'run-single', 'nginx.pid'));
  });

  after(async () => {
    for (const m of masters.reverse()) await quitNginx(m.args, m.pid);
    appProcess?.kill();
    await rm(dir, { recursive: true, force: true });
  });

  it('the app and the access log see each request as they did with one tier: raw target, method, headers, body', async () => {
    const chunked = 'a'.repeat(70_000);
    const requests: Record<string, string> = {
      // Dot segments, an encoded slash in the query, Host in capitals with a port, the client's own
      // X-Forwarded-For (appended to, not replaced), a header sent twice.
      'raw target and headers':
        'GET //x/./y/../z?q=%2F&a=b HTTP/1.1\r\nHost: Example.COM:8080\r\nX-Forwarded-For: 203.0.113.7\r\nX-Dup: 1\r\nX-Dup: 2\r\nConnection: close\r\n\r\n',
      'absolute form': 'GET http://Other.Example/abs?x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
      'chunked POST body': `POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunked.length.toString(16)}\r\n${chunked}\r\n0\r\n\r\n`,
      'body at the size limit (1 MiB)': `PUT /big HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1048576\r\nConnection: close\r\n\r\n${'b'.repeat(1_048_576)}`,
      'HEAD': 'HEAD /h HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    };
    for (const [name, request] of Object.entries(requests)) {
      const { answer: viaEdge, line: edgeLog } = await sendAndLog(edgePort, join(dir, 'log'), request);
      const { answer: direct, line: directLog } = await sendAndLog(singlePort, join(dir, 'log-single'), request);
      assert.equal(viaEdge.status, 200, `${name}: ${viaEdge.body.slice(0, 200)}`);
      assert.equal(viaEdge.status, direct.status, name);
      if (name !== 'HEAD') {
        assert.ok(viaEdge.seen && direct.seen, name);
        // The edge adds X-Real-IP (the next test); everything else is as the one tier sent it.
        const { 'x-request-id': _a, 'x-real-ip': _b, ...edgeHeaders } = viaEdge.seen.headers;
        const { 'x-request-id': _c, 'x-real-ip': _d, ...directHeaders } = direct.seen.headers;
        assert.deepEqual({ ...viaEdge.seen, headers: edgeHeaders }, { ...direct.seen, headers: directHeaders }, name);
      }
      const fields = (l: Record<string, unknown>) => [l.remote_addr, l.method, l.uri, l.status, l.upstream_status, l.pool];
      assert.deepEqual(fields(edgeLog), fields(directLog), name);
    }
    const raw = await send(edgePort, requests['raw target and headers']!);
    assert.equal(raw.seen?.url, '//x/./y/../z?q=%2F&a=b');
    assert.equal(raw.seen?.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    assert.equal(raw.seen?.headers.host, 'example.com');
    const body = await send(edgePort, requests['chunked POST body']!);
    assert.equal(body.seen?.bodySha256, createHash('sha256').update(chunked).digest('hex'));
  });

  it('the inner reads the raw target: a path only its raw form refuses is refused through the edge', async () => {
    // Decoded and resolved, /x/%2e%2e/y is /y; the inner's check on $request_uri refuses the encoded dot.
    const r = await send(edgePort, 'GET /x/%2e%2e/y HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    assert.equal(r.status, 400);
    assert.match(r.body, /request path refused/);
  });

  it("the inner sees the client's address (realip), not the socket, and a client's own X-Real-IP is replaced", async () => {
    const { answer: r, line } = await sendAndLog(edgePort, join(dir, 'log'), 'GET /who HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Real-IP: 198.51.100.1\r\nConnection: close\r\n\r\n');
    assert.equal(r.seen?.headers['x-real-ip'], '127.0.0.1');
    assert.equal(r.seen?.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(line.remote_addr, '127.0.0.1');
    assert.equal(line.uri, '/who');
  });

  it("the bot's probe token never reaches the apps: nginx reads it and strips it upstream", async () => {
    const a = await rawExchange(edgePort, 'GET /probe HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Bluegreen-Probe: 0123456789abcdef\r\nConnection: close\r\n\r\n');
    assert.equal(a.status, 200, a.body.slice(0, 200));
    const seen = JSON.parse(a.body) as Seen;
    assert.equal(seen.headers['x-bluegreen-probe'], undefined, 'an app (or whoever runs in it) would learn the token');
    assert.match(a.head, /^x-bluegreen-upstream: 200$/im, 'nginx still answers the probe with the upstream status');
  });

  it('X-Bluegreen-Pool names the pool nginx sent the request to: to everyone by default, to the probes only with POOL_HEADER=off', async () => {
    const pool = (head: string) => /^x-bluegreen-pool: (\S+)$/im.exec(head)?.[1];
    const plain = 'GET /who HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n';
    const probe = 'GET /who HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Bluegreen-Probe: 0123456789abcdef\r\nConnection: close\r\n\r\n';
    // Both pools are this one app at one address: nginx's map names the first pool listed for it.
    assert.equal(pool((await rawExchange(edgePort, plain)).head), 'blue');
    assert.equal(pool((await rawExchange(singlePort, plain)).head), undefined, 'POOL_HEADER=off: no header for the public');
    assert.equal(pool((await rawExchange(singlePort, probe)).head), 'blue', "the bot's probes are told anyway");
    // nginx answering by itself (no pool asked) names none.
    assert.equal(pool((await rawExchange(edgePort, 'GET /nginx-health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')).head), undefined);
  });

  it('a body over the limit is refused by the edge with the 413 the inner would give', async () => {
    const over = `POST /big HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1048577\r\nConnection: close\r\n\r\n${'c'.repeat(1_048_577)}`;
    assert.equal((await send(edgePort, over)).status, 413);
    assert.equal((await send(singlePort, over)).status, 413);
  });

  it('HTTP/1.0 with no Host: /nginx-health answers, and the app is told the edge\'s name', async () => {
    const health = await send(edgePort, 'GET /nginx-health HTTP/1.0\r\n\r\n');
    assert.equal(health.status, 200);
    assert.equal(health.body, '{"status":"ok"}\n');
    const r = await send(edgePort, 'GET /old-client HTTP/1.0\r\n\r\n');
    assert.equal(r.status, 200);
    assert.equal(r.seen?.headers.host, 'localhost');
  });

  it(`${RELOADS} inner reloads under ${RATE} GETs/s and ${RELOADS} under ${RATE} POSTs/s from 20 keep-alive clients: 0 failed, no POST sent twice`, async () => {
    const figures: Record<string, unknown> = {};
    for (const method of ['GET', 'POST'] as const) {
      const edgeLog = (await readFile(join(dir, 'edge-error.log'), 'utf8')).length;
      const postsBefore = await appPosts();
      const reloads: string[] = [];
      const samples = await runSampledLoad({
        url: `http://127.0.0.1:${edgePort}/load`,
        method,
        body: method === 'POST' ? '{"order":1}' : undefined,
        rate: RATE,
        amount: Number.MAX_SAFE_INTEGER,
        maxSeconds: 60,
        during: async () => {
          for (let i = 0; i < RELOADS; i++) {
            await new Promise((r) => setTimeout(r, 250));
            const r = await runFile('sh', [nginxDir('bluegreen-nginx-members.sh'), 'reload'], env);
            reloads.push(r.code === 0 ? r.stdout.trim() : r.stderr);
          }
          await new Promise((r) => setTimeout(r, 500));
        },
      });
      const { byRelease: _, ...load } = summarizeSamples(samples);
      // What the edge logged: each line is a cached connection the reload closed, resent.
      const retried = (await readFile(join(dir, 'edge-error.log'), 'utf8')).slice(edgeLog).split('\n').filter((l) => /\[(error|crit|alert|emerg)\]/.test(l)).length;
      const posts = (await appPosts()) - postsBefore;
      figures[method] = { reloads: reloads.length, ...load, edgeErrorLines: retried, appPosts: posts };
      assert.deepEqual(reloads, Array(RELOADS).fill('reloaded'), method);
      assert.equal(load.failed, 0, `${method}: ${JSON.stringify(figures[method])}`);
      assert.ok(load.requests > RELOADS * 0.25 * RATE, `${method}: only ${load.requests} requests`);
      if (method === 'POST') assert.equal(posts, load.requests, 'each POST reached the app once');
    }
    console.log(`EDGE_RELOAD_FIGURES ${JSON.stringify({ rate: RATE, clients: 20, ...figures })}`);
  });
});
