// Ack latency of /bluegreen commands and alert-button clicks, p50/p95/p99, measured as the time
// from sending a signed request to the real Bolt HTTP receiver until its 200 (the ack), while the
// real watcher in the same process tails a log growing by ~5,000 lines/s. Slack's Web API and
// response_url are the local stand-in. Prints JSON. Usage: npm run bench:ack [-- --n 300]
import { appendFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCommand, USAGE } from '../src/commands/parse-command.js';
import { loadConfig } from '../src/config.js';
import { HttpServer } from '../src/http-server.js';
import { createLogger } from '../src/log.js';
import { actionIdFor } from '../src/bot/ids.js';
import { createSlackBot } from '../src/bot/slack-bot.js';
import { Watcher } from '../src/watcher/watcher.js';
import { blockActionBody, postSigned, SlackStandIn, slashCommandBody } from '../test/support/slack-stand-in.js';
import { FakeRunner, statusView } from '../test/unit/bot/fixtures.js';
import { makeLine } from './watcher-lines.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('n', 300);
const LINES_PER_SEC = arg('rate', 5000);
const SECRET = 'bench-signing-secret';

const dir = await mkdtemp(join(tmpdir(), 'bg-bench-ack-'));
const logPath = join(dir, 'access.json.log');
await writeFile(logPath, '');
const slack = await new SlackStandIn().start();
const config = loadConfig({
  SLACK_BOT_TOKEN: 'xoxb-bench',
  SLACK_SIGNING_SECRET: SECRET,
  SLACK_API_URL: slack.apiUrl,
  SLACK_ALERT_CHANNEL: 'C_ALERTS',
  SLACK_ADMIN_USERS: 'U_ADMIN',
  ACCESS_LOG_PATH: logPath,
  STATE_DIR: join(dir, 'state'),
  LOG_LEVEL: 'warn',
});
const log = createLogger({ level: 'warn', destination: { write: () => undefined } as never });
const http = new HttpServer(log);
const runner = new FakeRunner();
runner.delayMs = 50; // the work after the ack; must not show in ack latency
const bot = createSlackBot({
  config,
  log,
  http,
  deps: { parse: parseCommand, runner, status: async () => ({ status: 'ok', message: 'status', data: statusView() }), audit: () => undefined, usage: USAGE },
});
await bot.start();
const addr = await http.listen(0, '127.0.0.1');
const url = `http://127.0.0.1:${addr.port}/slack/events`;
const watcher = new Watcher({ config, log, notifiers: bot.notifier ? [bot.notifier] : [], tail: { startAt: 'end' } });
await watcher.start();

// The feed: LINES_PER_SEC lines a second, appended every 10 ms.
let written = 0;
const feedStart = Date.now();
let feeding = true;
const feed = (async () => {
  while (feeding) {
    const due = Math.floor(((Date.now() - feedStart) / 1000) * LINES_PER_SEC);
    if (due > written) {
      const lines: string[] = [];
      for (; written < due; written += 1) lines.push(makeLine(written, Date.now()));
      await appendFile(logPath, `${lines.join('\n')}\n`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
})();

await new Promise((r) => setTimeout(r, 2000)); // warm-up under load

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => Math.round((s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] ?? NaN) * 100) / 100;
  return { n: s.length, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: q(1) };
}

const commandMs: number[] = [];
const clickMs: number[] = [];
for (let i = 0; i < N; i += 1) {
  const text = i % 3 === 0 ? 'status' : i % 3 === 1 ? 'switch green' : 'switch blue';
  let t0 = performance.now();
  const c = await postSigned({ url, secret: SECRET, body: slashCommandBody({ text, userId: 'U_ADMIN', channelId: 'C_OPS', responseUrl: slack.responseUrl(`c${i}`) }) });
  commandMs.push(performance.now() - t0);
  if (c.status !== 200) throw new Error(`command ${i}: HTTP ${c.status}`);
  t0 = performance.now();
  const pool = i % 2 === 0 ? 'green' : 'blue';
  const k = await postSigned({
    url,
    secret: SECRET,
    body: blockActionBody({ actionId: actionIdFor('switchTo', pool), value: JSON.stringify({ k: 'failover:bench', p: pool }), userId: 'U_ADMIN', channelId: 'C_ALERTS', messageTs: '1700000000.000001', responseUrl: slack.responseUrl(`k${i}`), actionTs: `${i}.000001` }),
  });
  clickMs.push(performance.now() - t0);
  if (k.status !== 200) throw new Error(`click ${i}: HTTP ${k.status}`);
  await new Promise((r) => setTimeout(r, 20));
}

feeding = false;
await feed;
const elapsedSec = (Date.now() - feedStart) / 1000;
await new Promise((r) => setTimeout(r, 300));
const snap = watcher.snapshot();
await watcher.stop();
await bot.stop();
await http.close();
await slack.stop();

console.log(
  JSON.stringify(
    {
      bench: 'ack-latency',
      unit: 'ms',
      feed: { targetLinesPerSec: LINES_PER_SEC, linesWritten: written, linesPerSec: Math.round(written / elapsedSec), watcherLinesRead: snap.lines.read, watcherMalformed: snap.lines.malformed },
      commands: stats(commandMs),
      clicks: stats(clickMs),
      operationsRun: runner.calls.length,
      note: 'request sent -> HTTP 200 from Bolt (the ack), client in the same process; work after the ack (50 ms) is excluded by design',
    },
    null,
    2,
  ),
);
process.exit(0);
