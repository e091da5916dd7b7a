// The attacker's view of the public port (issue #10, item 4): anyone who reaches nginx must not be
// able to start, stop or read chaos, however the path is spelled. fetch() normalises paths, so each
// request line is written by hand on a raw socket to nginx's published 127.0.0.1 port.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { dockerAvailable } from './support/docker.js';
import { chaos, startStack, type Stack } from './support/stack.js';

/**
 * Request targets (before `?mode=error`) that nginx and the app's WHATWG URL parser (`new URL()`)
 * may read differently. Each comment says what the app would make of it.
 */
const SPELLINGS: readonly string[] = [
  '/chaos\\start', // `\` is `/` to WHATWG; nginx's location did not match it
  '/chaos%5Cstart', // decoded to `\` in nginx's $uri
  '/chaos%5cstart',
  '/chaos%2Fstart', // encoded slash
  '/chaos%2fstart',
  '//chaos/start', // merge_slashes in nginx; WHATWG reads a host `chaos`
  '///chaos/start',
  '//x/chaos/start', // WHATWG: host `x`, path /chaos/start; nginx: $uri /x/chaos/start
  '/\\x/chaos/start', // WHATWG: `/\` is `//`, same as above
  '\\\\x\\chaos\\start',
  '/./chaos/start',
  '/x/../chaos/start',
  '/x/..\\chaos\\start', // WHATWG resolves the `..` once `\` is `/`; nginx sees one segment
  '/x/..%5Cchaos/start',
  '/x/..%2Fchaos/start',
  '/%2e/chaos/start', // WHATWG treats %2e as a dot segment
  '/x/%2e%2e/chaos/start',
  '/x/%2E%2E/chaos/start',
  '/x/.%2e/chaos/start',
  '/x/%2e%2e%5Cchaos%5Cstart',
  '/%63haos/start', // encoded letters
  '/ch%61os/start',
  '/CHAOS/start', // case
  '/Chaos/start',
  '/cHaOs/StArT',
  '/chaos;x/start', // path parameters
  '/chaos/start;a=b',
  '/chaos%00/start', // NUL
  '/chaos%20/start',
  '/chaos/start%20',
  '/cha\tos/start', // WHATWG deletes tabs
  '/chaos\t/start',
  '/chaos/\tstart',
  '/chaos/start/',
  '/chaos//start',
  '/chaos/./start',
  '/chaos\\', // GET /chaos reads the state
  '/chaos%5C',
  'http://127.0.0.1/chaos/start', // absolute-form request targets
  'http://127.0.0.1/chaos\\start',
  'http://127.0.0.1//x/chaos/start',
  'HTTP://127.0.0.1/CHAOS/start',
];

interface RawAnswer {
  /** 0 when the connection closed without a status line. */
  status: number;
  head: string;
}

/** Writes one request line + headers on a fresh connection and reads the status line (bounded). */
function rawRequest(port: number, method: string, target: string, timeoutMs = 5000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const head = data.split('\r\n\r\n')[0] ?? '';
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      resolve({ status: m ? Number(m[1]) : 0, head });
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('connect', () => {
      socket.write(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    });
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
      if (data.includes('\r\n\r\n')) done();
    });
    socket.on('error', done);
    socket.on('close', done);
  });
}

async function chaosState(stack: Stack, pool: 'blue' | 'green'): Promise<string | null> {
  const res = await fetch(stack.poolUrl(pool, '/chaos'));
  return ((await res.json()) as { chaos: string | null }).chaos;
}

const REFUSED = new Set([0, 400, 403, 404]);

const docker = await dockerAvailable();

describe('public port: chaos in any spelling', { skip: !docker && 'no Docker engine (start dockerd)', timeout: 600_000 }, () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack({ project: 'bge2e-port', services: ['app_blue', 'app_green', 'nginx'], waitForBot: false });
  });

  after(async () => {
    await stack?.down();
  });

  it(`refuses ${SPELLINGS.length} spellings, POST and GET, and no pool's chaos ever turns on`, async () => {
    const gotThrough: string[] = [];
    const answers: Record<string, number> = {};
    for (const spelling of SPELLINGS) {
      for (const method of ['POST', 'GET']) {
        const target = method === 'POST' && !spelling.endsWith('\\') && !/%5c$/i.test(spelling) ? `${spelling}?mode=error` : spelling;
        const answer = await rawRequest(stack.ports.nginx, method, target);
        answers[`${method} ${JSON.stringify(target)}`] = answer.status;
        const states = { blue: await chaosState(stack, 'blue'), green: await chaosState(stack, 'green') };
        const leaked = method === 'GET' && /"chaos"\s*:/.test(answer.head);
        if (!REFUSED.has(answer.status) || states.blue !== null || states.green !== null || leaked) {
          gotThrough.push(`${method} ${JSON.stringify(target)} -> ${answer.status} chaos ${JSON.stringify(states)}`);
          // Put the pools back so the next spelling is judged on its own.
          if (states.blue !== null) await chaos(stack, 'blue', 'stop');
          if (states.green !== null) await chaos(stack, 'green', 'stop');
        }
      }
    }
    console.log(`PUBLIC_PORT_ANSWERS ${JSON.stringify(answers)}`);
    assert.deepEqual(gotThrough, [], `spellings that got through:\n${gotThrough.join('\n')}`);
    assert.equal(await chaosState(stack, 'blue'), null);
    assert.equal(await chaosState(stack, 'green'), null);
    const res = await fetch(stack.url('/'));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-app-pool'), 'blue');
  });

  it('ordinary paths: /, /version, /healthz through nginx; a word merely containing "chaos" is not an endpoint', async () => {
    for (const path of ['/', '/version', '/healthz']) {
      const r = await rawRequest(stack.ports.nginx, 'GET', path);
      assert.equal(r.status, 200, `${path}: ${r.head}`);
    }
    // Reaches the app, which has no such page: nginx does not refuse it.
    assert.equal((await rawRequest(stack.ports.nginx, 'GET', '/about')).status, 404);
    assert.equal((await rawRequest(stack.ports.nginx, 'GET', '/docs/about-chaos')).status, 404);
    // A path segment that starts with "chaos" is refused by nginx itself, whatever follows it: that
    // one rule covers `chaos` + `;`, NUL, space, tab... without listing them (see nginx.conf.template).
    const monkey = await rawRequest(stack.ports.nginx, 'GET', '/chaosmonkey-docs');
    assert.equal(monkey.status, 403, monkey.head);
  });

  it("the pool's own 127.0.0.1 port still starts and stops chaos (drills)", async () => {
    await chaos(stack, 'blue', 'start', 'error');
    assert.equal(await chaosState(stack, 'blue'), 'error');
    // nginx retries on the backup: the public port keeps answering 200.
    const res = await fetch(stack.url('/'));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-app-pool'), 'green');
    await chaos(stack, 'blue', 'stop');
    assert.equal(await chaosState(stack, 'blue'), null);
  });
});
