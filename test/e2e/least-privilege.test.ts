// A compromised bot (issue #20): code running in the bot container reaches Docker only through the
// filter (src/docker-filter), which lets through the bot's own calls and refuses every escalation.
// Run from inside the bot container, as an attacker there would, on the real engine.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { botCli, eventually, serviceContainer } from './deploy-host.js';
import { dockerAvailable, run } from './support/docker.js';
import { foreignContainer, refusalsIn, tryEscalations } from './support/escalations.js';
import { DEMO_IMAGE, startStack, type Stack } from './support/stack.js';

const docker = await dockerAvailable();

describe('a compromised bot: the Docker API filter (real stack, from inside the bot container)', { skip: docker ? false : 'no Docker engine', timeout: 600_000 }, () => {
  let stack: Stack;
  const figures: Record<string, unknown> = {};

  before(async () => {
    stack = await startStack({ project: 'bge2e-leastpriv' });
  });

  after(async () => {
    process.stdout.write(`LEAST_PRIVILEGE_FIGURES ${JSON.stringify(figures)}\n`);
    if (stack && process.env.BLUEGREEN_E2E_KEEP !== '1') await stack.down();
    if (stack) await run('docker', ['rm', '-f', `${stack.project}-someone-else`]);
  });

  it('the bot holds no Docker socket; neither it nor the filter is root or holds a capability; the filter publishes no port and answers the bot alone', async () => {
    const bot = await serviceContainer(stack.project, 'bot');
    const sock = await run('docker', ['exec', bot, 'sh', '-c', 'test -e /var/run/docker.sock && echo present || echo absent']);
    assert.equal(sock.stdout.trim(), 'absent');
    const filter = await serviceContainer(stack.project, 'docker-filter');
    assert.equal((await run('docker', ['port', filter])).stdout.trim(), '', 'no published port');
    // Neither runs as root, and neither holds a capability (CapEff of its process 1 is all zero).
    for (const [name, id] of [['bot', bot], ['docker-filter', filter]] as const) {
      const who = await run('docker', ['exec', id, 'sh', '-c', 'id -u; grep CapEff /proc/1/status']);
      assert.match(who.stdout, /^1000\nCapEff:\s+0+\n$/, `${name}: ${who.stdout}${who.stderr}`);
    }
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
      foreign: await foreignContainer(`${stack.project}-someone-else`, DEMO_IMAGE),
    };
    const { allowed, escalations } = await tryEscalations(ids);
    figures.attempts = [allowed, ...escalations].map((x) => `${x.status} ${x.call.slice(0, 80)}`);
    assert.equal(allowed.status, 200, allowed.message);
    for (const a of escalations) {
      assert.equal(a.status, 403, `${a.call}: ${a.status} ${a.message}`);
      assert.match(a.message, /bluegreen docker filter: /, a.call);
    }
    const refusals = refusalsIn((await run('docker', ['logs', await serviceContainer(stack.project, 'docker-filter')])).stdout);
    figures.refusalsLogged = refusals.length;
    assert.equal(refusals.length, escalations.length, `each refusal is logged, and only those: ${JSON.stringify(refusals)}`);
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

  it("an image that carries the stack's nginx labels deploys as a pool: no container of it ever looks like nginx", async () => {
    // A door found by review: deploy's candidate took its image's com.docker.compose.service label,
    // so for the seconds it lived the bot (and the filter) could take it for nginx.
    const tag = `${DEMO_IMAGE}-as-nginx`;
    const dir = await mkdtemp(join(tmpdir(), 'bg-as-nginx-'));
    try {
      await writeFile(join(dir, 'Dockerfile'), `FROM ${DEMO_IMAGE}\nLABEL com.docker.compose.project=${stack.project} com.docker.compose.service=nginx\n`);
      const built = await run('docker', ['build', '-q', '-t', tag, dir], { timeoutMs: 120_000 });
      assert.equal(built.code, 0, built.stderr);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const st = await botCli(stack, 'status');
    const idle = (st.result as { data: { active: string } }).data.active === 'green' ? 'blue' : 'green';
    const nginxLike = new Set<string>();
    let done = false;
    const deploy = botCli(stack, 'deploy', idle, tag).finally(() => {
      done = true;
    });
    while (!done) {
      const ps = await run('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${stack.project}`, '--filter', 'label=com.docker.compose.service=nginx']);
      for (const id of ps.stdout.split('\n').filter(Boolean)) nginxLike.add(id);
      await new Promise((r) => setTimeout(r, 100));
    }
    const d = await deploy;
    assert.equal(d.code, 0, d.stdout + d.stderr);
    figures.nginxLikeContainersDuringDeploy = nginxLike.size;
    assert.deepEqual([...nginxLike], [await serviceContainer(stack.project, 'nginx')], 'only the stack’s nginx is labelled nginx');
    await run('docker', ['image', 'rm', '-f', tag]);
  });
});
