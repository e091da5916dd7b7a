// A compromised bot (issue #20): code running in the bot container reaches Docker only through the
// filter (src/docker-filter), which lets through the bot's own calls and refuses every escalation.
// Run from inside the bot container, as an attacker there would, on the real engine.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { botCli, eventually, serviceContainer } from './deploy-host.js';
import { dockerAvailable, run } from './support/docker.js';
import { startStack, type Stack } from './support/stack.js';

const docker = await dockerAvailable();

/** Node run inside the bot container: each attempt through DOCKER_HOST, its status and message. */
const ATTACKS = String.raw`
const base = process.env.DOCKER_HOST.replace('tcp://', 'http://');
const ids = JSON.parse(process.argv[1]);
const attempts = [
  ['GET', '/v1.41/containers/json', null],
  ['POST', '/containers/create', { Image: ids.image, HostConfig: { Privileged: true } }],
  ['POST', '/containers/create', { Image: ids.image, HostConfig: { Binds: ['/:/host'] } }],
  ['POST', '/containers/create', { Image: ids.image, HostConfig: { Mounts: [{ Type: 'bind', Source: '/', Target: '/host' }] } }],
  ['POST', '/containers/create', { Image: ids.image, HostConfig: { CapAdd: ['SYS_ADMIN'] } }],
  ['POST', '/containers/create', { Image: ids.image, HostConfig: { PidMode: 'host' } }],
  ['POST', '/containers/create', { Image: ids.image, HostConfig: { NetworkMode: 'host' } }],
  ['POST', '/containers/create', { Image: ids.image, hostconfig: { privileged: true } }],
  ['POST', '/containers/' + ids.bot + '/exec', { Cmd: ['sh', '-c', 'id'], AttachStdout: true }],
  ['POST', '/containers/' + ids.nginx + '/exec', { Cmd: ['sh'], AttachStdin: true, Tty: true }],
  ['GET', '/containers/' + ids.nginx + '/archive?path=/etc', null],
  ['PUT', '/containers/' + ids.nginx + '/archive?path=/tmp', null],
  ['POST', '/volumes/create', { Name: 'x', Driver: 'local', DriverOpts: { type: 'none', o: 'bind', device: '/' } }],
  ['GET', '/swarm', null],
  ['GET', '/secrets', null],
  ['POST', '/build', null],
  ['GET', '/containers%2Fjson', null],
  ['GET', '/containers/x/../../swarm', null],
];
(async () => {
  const out = [];
  for (const [method, path, body] of attempts) {
    try {
      const res = await fetch(base + path, { method, headers: { 'content-type': 'application/json' }, body: body === null ? undefined : JSON.stringify(body) });
      const text = await res.text();
      out.push({ call: method + ' ' + path + (body && body.HostConfig ? ' ' + JSON.stringify(body.HostConfig) : ''), status: res.status, message: text.slice(0, 200) });
    } catch (err) {
      out.push({ call: method + ' ' + path, status: 0, message: String(err) });
    }
  }
  console.log(JSON.stringify(out));
})();
`;

describe('a compromised bot: the Docker API filter (real stack, from inside the bot container)', { skip: docker ? false : 'no Docker engine', timeout: 600_000 }, () => {
  let stack: Stack;
  const figures: Record<string, unknown> = {};

  before(async () => {
    stack = await startStack({ project: 'bge2e-leastpriv' });
  });

  after(async () => {
    process.stdout.write(`LEAST_PRIVILEGE_FIGURES ${JSON.stringify(figures)}\n`);
    if (stack && process.env.BLUEGREEN_E2E_KEEP !== '1') await stack.down();
  });

  it('the bot holds no Docker socket; the filter publishes no port and answers the bot alone', async () => {
    const bot = await serviceContainer(stack.project, 'bot');
    const sock = await run('docker', ['exec', bot, 'sh', '-c', 'test -e /var/run/docker.sock && echo present || echo absent']);
    assert.equal(sock.stdout.trim(), 'absent');
    const filter = await serviceContainer(stack.project, 'docker-filter');
    assert.equal((await run('docker', ['port', filter])).stdout.trim(), '', 'no published port');
    // nginx shares the bot's default network, not the filter's: it cannot even name it.
    const nginx = await serviceContainer(stack.project, 'nginx');
    const probe = await run('docker', ['exec', nginx, 'wget', '-q', '-T', '2', '-O', '-', 'http://docker-filter:2375/_ping']);
    assert.notEqual(probe.code, 0, 'nginx reached the filter');
  });

  it('every escalation is refused with 403 and its reason; the bot’s own calls pass', async () => {
    const ids = {
      bot: await serviceContainer(stack.project, 'bot'),
      nginx: await serviceContainer(stack.project, 'nginx'),
      image: `bluegreen-bot:${process.env.IMAGE_TAG ?? 'local'}`,
    };
    const r = await run('docker', ['exec', ids.bot, 'node', '-e', ATTACKS, JSON.stringify(ids)], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const results = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { call: string; status: number; message: string }[];
    figures.attempts = results.map((x) => `${x.status} ${x.call.slice(0, 80)}`);
    const [list, ...attacks] = results;
    assert.equal(list!.status, 200, list!.message);
    for (const a of attacks) {
      assert.equal(a.status, 403, `${a.call}: ${a.status} ${a.message}`);
      assert.match(a.message, /bluegreen docker filter: /, a.call);
    }
    const logs = await run('docker', ['logs', await serviceContainer(stack.project, 'docker-filter')]);
    const refusals = logs.stdout
      .split('\n')
      .filter((l) => l.includes('docker call refused'))
      .map((l) => JSON.parse(l) as { method: string; target: string; why: string });
    figures.refusalsLogged = refusals.length;
    assert.equal(refusals.length, attacks.length, `each refusal is logged, and only those: ${JSON.stringify(refusals.map((x) => `${x.method} ${x.target}: ${x.why}`))}`);
  });

  it("the bot's own work passes the filter: nginx's commands (exec, hijacked), status, switch, chaos kill and stop", async () => {
    // At start the bot runs bluegreen-nginx-members in nginx (exec create + a hijacked exec start).
    await eventually('the bot to tell nginx the releases through the filter', async () => {
      const logs = await run('docker', ['logs', await serviceContainer(stack.project, 'bot')]);
      return logs.stdout.includes('nginx names the releases in its access log');
    }, 30_000);
    const st = await botCli(stack, 'status');
    assert.equal(st.code, 0, st.stdout + st.stderr);
    assert.equal((st.result as { data: { docker: { ok: boolean } } }).data.docker.ok, true, st.stdout);
    const sw = await botCli(stack, 'switch', 'green');
    assert.equal(sw.code, 0, sw.stdout + sw.stderr);
    const kill = await botCli(stack, 'chaos', 'start', 'blue', 'kill', 'for', '10s');
    assert.equal(kill.code, 0, kill.stdout + kill.stderr);
    const stop = await botCli(stack, 'chaos', 'stop', 'blue');
    assert.equal(stop.code, 0, stop.stdout + stop.stderr);
    assert.match(stop.stdout, /started/);
  });
});
