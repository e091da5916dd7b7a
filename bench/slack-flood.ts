// The bot's memory under a flood of unauthenticated Slack requests: the real bot (src/main.ts, Slack
// HTTP mode, no Docker needed) as a child process, and N concurrent 4 MB POSTs to /slack/events
// that carry a wrong signature or none, half with a Content-Length, half chunked. Samples the
// child's RSS from /proc/<pid>/status while they run. Prints one JSON line.
// The bot runs as `node main.js` built from this checkout into .build/ (tsx would add ~40 MB of its
// own to the baseline). Usage: npm run bench:slack-flood [-- --posts 100 --mb 4 --entry src/main.ts]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { SlackStandIn } from '../test/support/slack-stand-in.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? String(process.argv[i + 1]) : def;
};
const POSTS = Number(arg('posts', '100'));
const BODY_MB = Number(arg('mb', '4'));
// Another entry (src/main.ts through tsx, an older checkout's build) measures the same flood against it.
const BUILT = '.build/bench-slack-flood';
const ENTRY = resolve(arg('entry', `${BUILT}/main.js`));
if (!process.argv.includes('--entry')) {
  const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', '--outDir', BUILT], { stdio: 'inherit' });
  if (tsc.status !== 0) throw new Error('the build for the benchmark failed');
}

const dir = await mkdtemp(join(tmpdir(), 'bg-bench-flood-'));
await writeFile(join(dir, 'access.json.log'), '');
const slack = await new SlackStandIn().start();

// The bot with a minimal env: Slack over HTTP against the local stand-in, no Docker socket, no
// nginx (deploy control fails only when asked to act), its own port.
const child = spawn(process.execPath, ENTRY.endsWith('.ts') ? ['--import', 'tsx', ENTRY] : [ENTRY], {
  cwd: process.cwd(),
  stdio: ['ignore', 'pipe', 'inherit'],
  env: {
    PATH: process.env.PATH,
    SLACK_BOT_TOKEN: 'xoxb-bench-flood',
    SLACK_SIGNING_SECRET: 'bench-flood-secret',
    SLACK_API_URL: slack.apiUrl,
    BOT_HOST: '127.0.0.1',
    BOT_PORT: '0',
    METRICS_PORT: '0',
    ACCESS_LOG_PATH: join(dir, 'access.json.log'),
    STATE_DIR: join(dir, 'state'),
    NGINX_STATE_DIR: join(dir, 'nginx'),
    DOCKER_SOCKET: join(dir, 'no-docker.sock'),
    AUTO_FAILOVER: 'false',
    LOG_LEVEL: 'info',
  },
});
const pid = child.pid as number;

const port = await new Promise<number>((resolvePort, reject) => {
  const timer = setTimeout(() => reject(new Error('the bot did not say "bot listening" within 30 s')), 30_000);
  child.once('exit', (code) => reject(new Error(`the bot exited (${code}) before listening`)));
  // {"level":30,…,"port":41235,"host":"127.0.0.1","msg":"bot listening"}
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      const l = JSON.parse(line) as { msg?: string; port?: number };
      if (l.msg === 'bot listening' && typeof l.port === 'number') {
        clearTimeout(timer);
        resolvePort(l.port);
      }
    } catch {
      // not a log line
    }
  });
});

/** VmRSS and VmHWM (peak) of the bot, in MB. */
async function memory(): Promise<{ rss: number; hwm: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

await new Promise((r) => setTimeout(r, 1500)); // start-up settles
const baseline = await memory();

let sampling = true;
let peakSampled = baseline.rss;
const sampler = (async () => {
  while (sampling) {
    peakSampled = Math.max(peakSampled, (await memory()).rss);
    await new Promise((r) => setTimeout(r, 10));
  }
})();

const body = Buffer.alloc(BODY_MB * 1024 * 1024, 'a');
const kinds = ['wrong signature, Content-Length', 'wrong signature, chunked', 'no signature, Content-Length', 'no signature, chunked'] as const;

/** One flood POST; resolves with the status, or how the connection ended without one. */
function post(i: number): Promise<string> {
  const kind = kinds[i % kinds.length] as (typeof kinds)[number];
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (kind.startsWith('wrong')) {
    headers['x-slack-request-timestamp'] = String(Math.floor(Date.now() / 1000));
    headers['x-slack-signature'] = `v0=${'0'.repeat(64)}`;
  }
  if (kind.endsWith('Content-Length')) headers['content-length'] = String(body.length);
  return new Promise((done) => {
    const req = request({ host: '127.0.0.1', port, path: '/slack/events', method: 'POST', headers, agent: false });
    const timer = setTimeout(() => {
      req.destroy();
      done('timeout');
    }, 30_000);
    req.on('response', (res) => {
      clearTimeout(timer);
      res.resume();
      done(String(res.statusCode));
      req.destroy();
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      done(err.code ?? 'error');
    });
    // 64 KB at a time, so a server that stops reading stops the client too.
    let offset = 0;
    const more = () => {
      while (offset < body.length && !req.destroyed) {
        const chunk = body.subarray(offset, offset + 64 * 1024);
        offset += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', more);
      }
      if (!req.destroyed) req.end();
    };
    more();
  });
}

const started = Date.now();
const results = await Promise.all(Array.from({ length: POSTS }, (_, i) => post(i)));
const elapsedMs = Date.now() - started;
await new Promise((r) => setTimeout(r, 200));
sampling = false;
await sampler;
const end = await memory();
const health = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, () => 0);

child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
await slack.stop();

const statuses: Record<string, number> = {};
for (const r of results) statuses[r] = (statuses[r] ?? 0) + 1;
const mb = (v: number) => Math.round(v * 10) / 10;
console.log(
  JSON.stringify({
    bench: 'slack-flood',
    posts: POSTS,
    bodyMb: BODY_MB,
    kinds,
    statuses,
    elapsedMs,
    baselineRssMb: mb(baseline.rss),
    peakRssMb: mb(Math.max(end.hwm, peakSampled)),
    endRssMb: mb(end.rss),
    healthzAfter: health,
    entry: ENTRY.replace(`${process.cwd()}/`, ''),
  }),
);
process.exit(0);
