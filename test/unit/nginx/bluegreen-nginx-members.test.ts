// nginx/bluegreen-nginx-members.sh against the host's real nginx (Debian's nginx-light), no Docker:
// the script renders the two upstream groups from member files in a temp folder, and `apply` reloads
// a real nginx master that proxies to small HTTP servers of this test, so a membership change is
// seen where it matters, in which server answers.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { closeServers, freePort, listen, NGINX, quitNginx, runFile, skipWithoutNginx, type Run } from './support/host-nginx.js';

const SCRIPT = fileURLToPath(new URL('../../../nginx/bluegreen-nginx-members.sh', import.meta.url));

/** A backend that names itself in X-Member, as a pool's task would with X-App-Pool. */
function backend(name: string): ReturnType<typeof listen> {
  return listen((_req, res) => {
    res.setHeader('x-member', name);
    res.end(`${name}\n`);
  });
}

describe('bluegreen-nginx-members with the host nginx', { skip: skipWithoutNginx }, () => {
  let dir: string;
  let state: string;
  let upstreams: string;
  let env: NodeJS.ProcessEnv;
  let port: number;
  const backends: Server[] = [];
  const addr: Record<string, string> = {};
  let started = false;

  const script = (mode: string, extraEnv: Record<string, string> = {}): Promise<Run> => runFile('sh', [SCRIPT, mode], { ...env, ...extraEnv });
  const nginx = (...args: string[]): Promise<Run> => runFile(join(dir, 'bin', 'nginx'), args, env);
  const members = (pool: string, text: string) => writeFile(join(state, `members-${pool}`), text);
  /** Which backends answered `n` requests through the group (path /blue or /green). */
  async function answered(group: 'blue' | 'green', n = 12): Promise<Record<string, number>> {
    const seen: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/${group}`, { headers: { connection: 'close' } });
      await res.arrayBuffer();
      const who = res.status === 200 ? (res.headers.get('x-member') ?? 'none') : `status ${res.status}`;
      seen[who] = (seen[who] ?? 0) + 1;
    }
    return seen;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bg-members-'));
    state = join(dir, 'state');
    upstreams = join(dir, 'bluegreen-upstreams.conf');
    await mkdir(state);
    await mkdir(join(dir, 'bin'));
    for (const name of ['b1', 'b2', 'g1']) {
      const b = await backend(name);
      backends.push(b.server);
      addr[name] = b.address;
    }
    port = await freePort();
    // The parts of nginx/nginx.conf.template that matter here: the include in http{}, a group per path
    // (the real one picks it per request from a flag file), keep-alive to the upstreams.
    await writeFile(
      join(dir, 'nginx.conf'),
      `pid ${dir}/nginx.pid;
error_log ${dir}/error.log notice;
worker_processes 2;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    include ${upstreams};
    server {
        listen 127.0.0.1:${port};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_next_upstream error timeout http_500 http_502 http_503 http_504;
        # What the access log's pool and release fields are made of (nginx.conf.template).
        add_header X-Pool $bg_upstream_pool always;
        add_header X-Release $bg_nginx_release always;
        location /blue { proxy_pass http://blue_primary; }
        location /green { proxy_pass http://green_primary; }
    }
}
`,
    );
    // The script calls plain `nginx`, as in the image; this one is the host's with the test's files.
    await writeFile(join(dir, 'bin', 'nginx'), `#!/bin/sh\nexec ${NGINX} -p ${dir}/ -c ${dir}/nginx.conf "$@"\n`, { mode: 0o755 });
    env = {
      PATH: `${join(dir, 'bin')}${delimiter}${process.env.PATH ?? '/usr/bin:/bin'}`,
      BLUEGREEN_MEMBERS_DIR: state,
      BLUEGREEN_UPSTREAMS_CONF: upstreams,
      BLUEGREEN_NGINX_PID: join(dir, 'nginx.pid'),
      MAX_FAILS: '2',
      FAIL_TIMEOUT: '3s',
      APP_PORT: '3000',
    };
  });

  after(async () => {
    if (started) await quitNginx(['-p', `${dir}/`, '-c', join(dir, 'nginx.conf')], join(dir, 'nginx.pid'));
    await closeServers(backends);
    await rm(dir, { recursive: true, force: true });
  });

  it('render without member files: each pool is its service name, as under Compose', async () => {
    const r = await script('render');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    const conf = await readFile(upstreams, 'utf8');
    assert.equal(
      conf.split('\n').filter((l) => !l.startsWith('#')).join('\n'),
      `upstream blue_primary {
    zone blue_primary 64k;
    server app_blue:3000 max_fails=2 fail_timeout=3s;
    server app_green:3000 backup max_fails=0;
    keepalive 32;
}
upstream green_primary {
    zone green_primary 64k;
    server app_green:3000 max_fails=2 fail_timeout=3s;
    server app_blue:3000 backup max_fails=0;
    keepalive 32;
}
map $upstream_addr $bg_upstream_pool {
    default "";
}
map $bg_upstream_pool $bg_nginx_release {
    default "";
}
`,
      'the service names do not resolve on this host: no address is named',
    );
  });

  it('render from member files: comments and blanks skipped, sorted, repeats once, nginx -t accepts it', async () => {
    await members('blue', `# tasks of app_blue\n${addr.b2}\n\n  ${addr.b1}   # the first task\n${addr.b2}`);
    await members('green', `${addr.g1}\n`);
    const r = await script('render');
    assert.equal(r.code, 0, r.stderr);
    const servers = (await readFile(upstreams, 'utf8')).split('\n').filter((l) => l.includes('server '));
    // Sorted byte-wise (LC_ALL=C), as JavaScript sorts ASCII.
    const blue = [addr.b1!, addr.b2!].sort();
    assert.deepEqual(servers, [
      ...blue.map((a) => `    server ${a} max_fails=2 fail_timeout=3s;`),
      `    server ${addr.g1} backup max_fails=0;`,
      `    server ${addr.g1} max_fails=2 fail_timeout=3s;`,
      ...blue.map((a) => `    server ${a} backup max_fails=0;`),
    ]);
    const t = await nginx('-t', '-q');
    assert.equal(t.code, 0, t.stderr);
  });

  it('an empty member file gives a placeholder that is down, and nginx -t accepts both roles', async () => {
    await members('blue', '# no tasks\n');
    const r = await script('render');
    assert.equal(r.code, 0, r.stderr);
    const conf = await readFile(upstreams, 'utf8');
    assert.match(conf, /upstream blue_primary \{\n {4}zone blue_primary 64k;\n {4}server 127\.0\.0\.1:1 max_fails=2 fail_timeout=3s down;/);
    assert.match(conf, /server 127\.0\.0\.1:1 backup max_fails=0 down;/);
    const t = await nginx('-t', '-q');
    assert.equal(t.code, 0, t.stderr);
  });

  it('refuses a bad member line by file and line number, exit 1, the file stays as it was', async () => {
    await members('blue', `${addr.b1}\n`);
    const before = await readFile(upstreams, 'utf8');
    const bad = ['10.0.0.5', '10.0.0.5:0', '10.0.0.5:65536', '10.0.0.5:08080', '256.0.0.1:80', '10.0.0:80', 'a b:80', 'app;evil:80', '-x:80', '[::1]:80', 'x:80 {'];
    for (const line of bad) {
      await members('green', `# ok\n${addr.g1}\n${line}\n`);
      for (const mode of ['render', 'apply']) {
        const r = await script(mode);
        assert.equal(r.code, 1, `${mode} ${line}: ${r.stderr}`);
        assert.equal(r.stdout, '');
        assert.ok(r.stderr.includes(`${join(state, 'members-green')} line 3: got '${line}', wants address:port`), r.stderr);
      }
      assert.equal(await readFile(upstreams, 'utf8'), before, line);
    }
  });

  it('refuses bad env like the entrypoint does (exit 64), and bad usage', async () => {
    for (const [name, value] of [['MAX_FAILS', 'x'], ['APP_PORT', '30a'], ['FAIL_TIMEOUT', '5 s']] as const) {
      const r = await script('render', { [name]: value });
      assert.equal(r.code, 64, name);
      assert.match(r.stderr, new RegExp(`${name}: got '${value}'`));
    }
    assert.equal((await script('restart')).code, 64);
    // grep reads line by line: without its own check, "5s" on the first line let the rest through into nginx's config.
    const smuggled = await script('render', { FAIL_TIMEOUT: '5s;\n}\nserver { listen 9999; }\n#' });
    assert.equal(smuggled.code, 64);
    assert.match(smuggled.stderr, /FAIL_TIMEOUT: a newline in the value/);
  });

  it('apply while nginx is not running: exit 1 with its message, the previous file back', async () => {
    await members('blue', `${addr.b1}\n`);
    await members('green', `${addr.g1}\n`);
    assert.equal((await script('render')).code, 0);
    const kept = await readFile(upstreams, 'utf8');
    await members('blue', `${addr.b2}\n`);
    const r = await script('apply');
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    // nginx -t leaves an empty pid file: "invalid PID number "" in ".../nginx.pid"" (1.22).
    assert.match(r.stderr, /\[(error|alert)\] .*nginx\.pid/);
    assert.match(r.stderr, /nginx -s reload failed/);
    assert.equal(await readFile(upstreams, 'utf8'), kept);
  });

  describe('apply, with nginx running', () => {
    before(async () => {
      await members('blue', `${addr.b1}\n`);
      await members('green', `${addr.g1}\n`);
      assert.equal((await script('render')).code, 0);
      const s = await nginx();
      assert.equal(s.code, 0, s.stderr);
      started = true;
    });

    it('serves the members it was started with', async () => {
      assert.deepEqual(await answered('blue'), { b1: 12 });
      assert.deepEqual(await answered('green'), { g1: 12 });
    });

    it('a member added: reloaded, and the new member takes requests', async () => {
      await members('blue', `${addr.b1}\n${addr.b2}\n`);
      const r = await script('apply');
      assert.deepEqual(r, { code: 0, stdout: 'reloaded\n', stderr: '' });
      // New workers have the new config; round robin shares requests between both members.
      assert.deepEqual(await answered('blue'), { b1: 6, b2: 6 });
    });

    it('the same set again, in another order and with comments: unchanged, no reload', async () => {
      await members('blue', `# reordered\n${addr.b2}\n${addr.b1}\n`);
      const log = await readFile(join(dir, 'error.log'), 'utf8');
      const r = await script('apply');
      assert.deepEqual(r, { code: 0, stdout: 'unchanged\n', stderr: '' });
      assert.equal(await readFile(join(dir, 'error.log'), 'utf8'), log, 'nginx logged nothing: it was not signalled');
    });

    it('a pool with no members: its group sends every request to the backup pool', async () => {
      await members('blue', '');
      assert.deepEqual(await script('apply'), { code: 0, stdout: 'reloaded\n', stderr: '' });
      assert.deepEqual(await answered('blue'), { g1: 12 });
      assert.deepEqual(await answered('green'), { g1: 12 });
    });

    it('reload: rendered again and reloaded even when nothing changed (what a deploy under Compose needs)', async () => {
      const kept = await readFile(upstreams, 'utf8');
      const log = (await readFile(join(dir, 'error.log'), 'utf8')).length;
      assert.deepEqual(await script('reload'), { code: 0, stdout: 'reloaded\n', stderr: '' });
      assert.equal(await readFile(upstreams, 'utf8'), kept);
      assert.match((await readFile(join(dir, 'error.log'), 'utf8')).slice(log), /reconfiguring/);
    });

    it('nginx names the pool and release of each answer from the members and release files, and writes the address table', async () => {
      await members('blue', `${addr.b1}\n${addr.b2}\n`);
      await members('green', `${addr.g1}\n`);
      await writeFile(join(state, 'release-blue'), 'shop-v1.4\n');
      await writeFile(join(state, 'release-green'), 'shop-v1.5+build:7\n');
      assert.equal((await script('apply')).stdout, 'reloaded\n');
      const named = async (group: 'blue' | 'green') => {
        const res = await fetch(`http://127.0.0.1:${port}/${group}`, { headers: { connection: 'close' } });
        await res.arrayBuffer();
        return [res.headers.get('x-member'), res.headers.get('x-pool'), res.headers.get('x-release')];
      };
      const seen = new Set<string>();
      for (let i = 0; i < 6; i++) seen.add(JSON.stringify(await named('blue')));
      assert.deepEqual([...seen].sort(), [JSON.stringify(['b1', 'blue', 'shop-v1.4']), JSON.stringify(['b2', 'blue', 'shop-v1.4'])]);
      assert.deepEqual(await named('green'), ['g1', 'green', 'shop-v1.5+build:7']);
      const table = (await readFile(join(state, 'upstream-pools'), 'utf8')).split('\n').filter(Boolean).sort();
      assert.deepEqual(table, [`${addr.b1} blue`, `${addr.b2} blue`, `${addr.g1} green`].sort());
      // A release nginx cannot print is left out, said on stderr; the members still apply.
      await writeFile(join(state, 'release-green'), 'v2"; return 200 "owned\n');
      const r = await script('apply');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /release-green: got 'v2"; return 200 "owned', wants letters, digits and \. _ - \+ :/);
      assert.deepEqual(await named('green'), ['g1', 'green', null]);
      await rm(join(state, 'release-blue'));
      await rm(join(state, 'release-green'));
    });

    it('a member given by host name is named by the address it resolves to (as under Compose)', async () => {
      const port1 = addr.b1!.split(':')[1]!;
      await members('blue', `localhost:${port1}\n`);
      assert.equal((await script('apply')).code, 0);
      const table = (await readFile(join(state, 'upstream-pools'), 'utf8')).split('\n').filter(Boolean);
      assert.ok(table.includes(`127.0.0.1:${port1} blue`), table.join(', '));
      const res = await fetch(`http://127.0.0.1:${port}/blue`, { headers: { connection: 'close' } });
      await res.arrayBuffer();
      assert.deepEqual([res.headers.get('x-member'), res.headers.get('x-pool')], ['b1', 'blue']);
    });

    it('nginx -t refusing the new set: exit 1 with its message, the previous file back, nginx serves on', async () => {
      await members('blue', `${addr.b1}\n`);
      assert.equal((await script('apply')).stdout, 'reloaded\n');
      const kept = await readFile(upstreams, 'utf8');
      // A valid line nginx cannot use: the name does not resolve (.invalid never does, RFC 6761).
      await members('blue', `${addr.b1}\nno-such-task.invalid:3000\n`);
      const r = await script('apply');
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /\[emerg\].*host not found in upstream "no-such-task\.invalid:3000"/);
      assert.match(r.stderr, /nginx -t refused the configuration \(its message above\); the previous file is back/);
      assert.equal(await readFile(upstreams, 'utf8'), kept);
      assert.deepEqual(await answered('blue'), { b1: 12 });
      const again = await nginx('-t', '-q');
      assert.equal(again.code, 0, again.stderr);
    });
  });
});
