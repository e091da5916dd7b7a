// The attacker's view of the public port (issue #10, item 4): anyone who reaches nginx must not be
// able to start, stop or read chaos, however the path is spelled. fetch() normalises paths, so each
// request line is written by hand on a raw socket to nginx's published 127.0.0.1 port.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CHAOS_SPELLINGS as SPELLINGS, REFUSED, targetFor } from '../support/chaos-spellings.js';
import { rawRequest } from '../support/raw-http.js';
import { dockerAvailable } from './support/docker.js';
import { chaos, startStack, type Stack } from './support/stack.js';

async function chaosState(stack: Stack, pool: 'blue' | 'green'): Promise<string | null> {
  const res = await fetch(stack.poolUrl(pool, '/chaos'));
  return ((await res.json()) as { chaos: string | null }).chaos;
}

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
        const target = targetFor(method, spelling);
        const answer = await rawRequest(stack.ports.nginx, method, target);
        answers[`${method} ${JSON.stringify(target)}`] = answer.status;
        const states = { blue: await chaosState(stack, 'blue'), green: await chaosState(stack, 'green') };
        // A GET must not read the state either: no chaos field in what came back.
        const leaked = /"chaos"\s*:/.test(answer.body);
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

  it("the pool's own 127.0.0.1 port still starts and stops chaos (drills), only with the stack's ADMIN_TOKEN", async () => {
    // Anyone who reaches the admin listener (any container on the network) but lacks the token.
    for (const headers of [{}, { 'x-bluegreen-admin-token': 'a-guess' }] as Record<string, string>[]) {
      const res = await fetch(stack.poolUrl('blue', '/chaos/start?mode=error'), { method: 'POST', headers });
      assert.equal(res.status, 401, await res.text());
    }
    assert.equal(await chaosState(stack, 'blue'), null);
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
