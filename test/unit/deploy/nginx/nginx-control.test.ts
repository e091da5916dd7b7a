import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createComposeEngine } from '../../../../src/deploy/compose/compose-engine.js';
import { createNginxControl, type NginxControl, describeVerification, MAINTENANCE_PAGE_FLAG, nginxProblem, probePage } from '../../../../src/deploy/nginx/nginx-control.js';
import { FakeEngine } from '../fakes.js';

// A tiny stand-in that routes like nginx's `if (-f …/active-green)`: per request, from the flags;
// and answers like the maintenance page (503, no X-App-Pool) while its flag is there.
/** nginx's container as the Compose engine finds it in the fake project 'proj'. */
function onFake(engine: FakeEngine) {
  const compose = createComposeEngine({ docker: engine, project: async () => 'proj', nginx: {} as NginxControl, urls: { app: { blue: '', green: '' }, admin: { blue: '', green: '' } }, deployHealthTimeoutMs: 1 });
  return { engine, container: () => compose.nginxContainer() };
}

async function flagRouter(dir: string): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => {
    if (existsSync(join(dir, 'maintenance-page'))) return void res.writeHead(503, { 'retry-after': '300' }).end('{"status":"maintenance"}');
    const pool = existsSync(join(dir, 'active-green')) ? 'green' : 'blue';
    res.writeHead(200, { 'x-app-pool': pool }).end(JSON.stringify({ pool }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('nginx control', () => {
  const servers: Server[] = [];
  after(() => servers.forEach((s) => s.close()));

  it('flips flag files so the router serves the target, and verifies it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bg-nginx-'));
    const { server, url } = await flagRouter(dir);
    servers.push(server);
    const nginx = createNginxControl({ stateDir: dir, url, ...onFake(new FakeEngine()) });
    assert.equal(await nginx.activePool(), 'blue', 'no flags means blue, as in nginx');
    await nginx.setActive('green');
    assert.ok(existsSync(join(dir, 'active-green')));
    assert.equal(await nginx.activePool(), 'green');
    assert.equal(typeof (await nginx.verifyServing('green', 1000)).ms, 'number');
    await nginx.setActive('blue');
    assert.deepEqual([existsSync(join(dir, 'active-blue')), existsSync(join(dir, 'active-green'))], [true, false]);
    const v = await nginx.verifyServing('green', 150);
    assert.equal(v.ms, undefined, 'times out when nginx serves the other pool');
    assert.ok(v.checks > 0 && v.skipped === v.checks, JSON.stringify(v));
  });

  it('says what nginx did instead when the target does not answer: failed with a status, benched, no answer', async () => {
    // A release that passes /healthz and fails a third of real requests: nginx retries them on blue
    // and tells the probe "500, 200".
    // Like nginx, it tells the upstream statuses only to a probe carrying the token from the state folder.
    const dir = await mkdtemp(join(tmpdir(), 'bg-nginx-'));
    await writeFile(join(dir, 'probe-token'), '0a1b2c3d\n');
    let n = 0;
    const server = createServer((req, res) => {
      const failed = n++ % 3 === 0;
      const told = req.headers['x-bluegreen-probe'] === '0a1b2c3d' ? { 'x-bluegreen-upstream': failed ? '500, 200' : '200' } : {};
      res.writeHead(200, { 'x-app-pool': failed ? 'blue' : 'green', ...told }).end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    const nginx = createNginxControl({ stateDir: dir, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, ...onFake(new FakeEngine()) });
    const v = await nginx.verifyServing('green', 3000);
    // Routed to green (it answered), failing some: the switch stands, the guard judges the release.
    assert.equal(typeof v.ms, 'number', JSON.stringify(v));
    assert.ok(v.failedOver['500']! >= 3 && v.answered > 0, JSON.stringify(v));
    assert.match(describeVerification(v, 'green'), /^green failed \d+ of \d+ checks with 500 \(blue answered them\)$/);
    // A release that fails every request never counts as served.
    n = 0;
    const never = createServer((_req, res) => res.writeHead(200, { 'x-app-pool': 'blue', 'x-bluegreen-upstream': '500, 200' }).end('{}'));
    await new Promise<void>((r) => never.listen(0, '127.0.0.1', r));
    servers.push(never);
    const nginx2 = createNginxControl({ stateDir: '/nonexistent', url: `http://127.0.0.1:${(never.address() as AddressInfo).port}`, ...onFake(new FakeEngine()) });
    const v2 = await nginx2.verifyServing('green', 200);
    assert.equal(v2.ms, undefined);
    assert.equal(v2.failedOver['500'], v2.checks);
    assert.equal(
      describeVerification({ ms: undefined, checks: 11, answered: 5, failedOver: { '500': 4 }, benched: 0, skipped: 2, noAnswer: 0 }, 'green'),
      'green failed 4 of 11 checks with 500 (blue answered them); 2 of 11 went to blue without trying green (nginx still routed to blue)',
    );
  });

  it('tells a target nginx benched (its group chosen, blue answered in one try) from a flag that did not take', async () => {
    // nginx under load, just after a switch to a release that failed real requests at once: it routes
    // to green_primary, has benched green (MAX_FAILS), and blue answers every probe in one try.
    const dir = await mkdtemp(join(tmpdir(), 'bg-nginx-'));
    await writeFile(join(dir, 'probe-token'), '0a1b2c3d\n');
    let group = 'green_primary';
    const server = createServer((req, res) => {
      const told = req.headers['x-bluegreen-probe'] === '0a1b2c3d' ? { 'x-bluegreen-upstream': '200', 'x-bluegreen-group': group } : {};
      res.writeHead(200, { 'x-app-pool': 'blue', ...told }).end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    const nginx = createNginxControl({ stateDir: dir, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, ...onFake(new FakeEngine()) });
    const benched = await nginx.verifyServing('green', 150);
    assert.equal(benched.ms, undefined, 'a benched target was not seen serving');
    assert.ok(benched.checks > 0 && benched.benched === benched.checks && benched.skipped === 0, JSON.stringify(benched));
    assert.match(describeVerification(benched, 'green'), /^\d+ of \d+ went to blue because nginx had benched green \(it failed real requests\)$/);
    group = 'blue_primary';
    const notTaken = await nginx.verifyServing('green', 150);
    assert.ok(notTaken.checks > 0 && notTaken.skipped === notTaken.checks && notTaken.benched === 0, JSON.stringify(notTaken));
    assert.match(describeVerification(notTaken, 'green'), /went to blue without trying green \(nginx still routed to blue\)$/);
  });

  it('writes and removes the maintenance-page flag, and verifies what nginx answers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bg-nginx-'));
    const { server, url } = await flagRouter(dir);
    servers.push(server);
    const nginx = createNginxControl({ stateDir: dir, url, ...onFake(new FakeEngine()) });
    assert.equal(await nginx.maintenancePage(), false);
    await nginx.setMaintenancePage(true);
    await nginx.setMaintenancePage(true); // twice is once
    assert.ok(existsSync(join(dir, MAINTENANCE_PAGE_FLAG)));
    assert.equal(await nginx.maintenancePage(), true);
    assert.equal(await probePage(url, 1000), 'page');
    assert.equal(typeof (await nginx.verifyPage(true, 1000)), 'number');
    assert.equal(await nginx.verifyPage(false, 150), undefined, 'times out while the page is up');
    // The active pool is untouched by the page.
    assert.equal(await nginx.activePool(), 'blue');
    await nginx.setMaintenancePage(false);
    await nginx.setMaintenancePage(false); // removing a missing flag is fine
    assert.equal(existsSync(join(dir, MAINTENANCE_PAGE_FLAG)), false);
    assert.equal(await probePage(url, 1000), 'pool');
    assert.equal(typeof (await nginx.verifyPage(false, 1000)), 'number');
    assert.equal(await probePage('http://127.0.0.1:9', 200), undefined, 'no answer is neither');
  });

  it('reports a flag it cannot write as STATE_IO with a hint', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bg-nginx-'));
    await writeFile(join(dir, 'a-file'), '');
    const nginx = createNginxControl({ stateDir: join(dir, 'a-file', 'state'), url: 'http://127.0.0.1:9', ...onFake(new FakeEngine()) });
    await assert.rejects(nginx.setMaintenancePage(true), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'STATE_IO');
      assert.match(err.message, /cannot write the maintenance-page flag/);
      return true;
    });
  });

  it('reports nginx -t failures in nginx words and does not reload', async () => {
    const engine = new FakeEngine();
    const execs: string[] = [];
    engine.exec = async (_id, cmd) => {
      execs.push(cmd.join(' '));
      return cmd.includes('-t')
        ? {
            exitCode: 1,
            stdout: '',
            stderr:
              '2026/11/22 21:13:08 [emerg] 1#1: host not found in upstream "app_green:3000" in /etc/nginx/nginx.conf:47\nnginx: configuration file /etc/nginx/nginx.conf test failed\n',
          }
        : { exitCode: 0, stdout: '', stderr: '' };
    };
    const nginx = createNginxControl({ stateDir: '/nonexistent', url: 'http://127.0.0.1:9', ...onFake(engine) });
    await assert.rejects(nginx.testAndReload(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'NGINX_CONFIG_INVALID');
      assert.equal(err.message, 'nginx -t failed: [emerg] host not found in upstream "app_green:3000" in /etc/nginx/nginx.conf:47');
      return true;
    });
    assert.deepEqual(execs, ['nginx -t']);
  });

  it('reloads through bluegreen-nginx-members once nginx -t passed, and says why when it fails', async () => {
    const engine = new FakeEngine();
    const execs: string[] = [];
    let reloadFails = false;
    engine.exec = async (_id, cmd) => {
      execs.push(cmd.join(' '));
      return cmd[0] === 'bluegreen-nginx-members' && reloadFails
        ? { exitCode: 1, stdout: '', stderr: 'bluegreen-nginx-members: nginx was signalled but its old workers still serve after 10 s: it did not take the configuration (see its error log); nginx keeps its current config\n' }
        : { exitCode: 0, stdout: 'reloaded\n', stderr: '' };
    };
    const nginx = createNginxControl({ stateDir: '/nonexistent', url: 'http://127.0.0.1:9', ...onFake(engine) });
    await nginx.testAndReload();
    assert.deepEqual(execs, ['nginx -t', 'bluegreen-nginx-members reload']);
    reloadFails = true;
    await assert.rejects(nginx.testAndReload(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'NGINX_DOWN');
      assert.match(err.message, /^nginx reload failed: bluegreen-nginx-members: nginx was signalled but its old workers still serve/);
      return true;
    });
  });

  it('reads both forms of nginx -t complaints', () => {
    assert.equal(nginxProblem('nginx: [emerg] unknown directive "x" in /a.conf:3\nnginx: configuration file /a.conf test failed\n'), '[emerg] unknown directive "x" in /a.conf:3');
    assert.equal(nginxProblem(''), 'no output');
  });

  it('says nginx is down when its container is not running', async () => {
    const engine = new FakeEngine();
    engine.containers.find((c) => c.service === 'nginx')!.state = 'exited';
    const nginx = createNginxControl({ stateDir: '/nonexistent', url: 'http://127.0.0.1:9', ...onFake(engine) });
    await assert.rejects(nginx.testAndReload(), /nginx container of project proj is exited/);
  });
});
