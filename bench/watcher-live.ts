// Live latency of the watcher: a writer appends access-log lines; we time from the write to the
// notifier call (alerts) and to the line being counted, and measure CPU at a steady 5,000 lines/s.
// Prints JSON. Run: npx tsx bench/watcher-live.ts
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import type { Notifier } from '../src/shared/alert.js';
import { Watcher } from '../src/watcher/watcher.js';
import { makeLine } from './watcher-lines.js';

const dir = mkdtempSync(join(tmpdir(), 'bench-live-'));
const path = join(dir, 'access.json.log');
writeFileSync(path, '');
const config = loadConfig({ ACCESS_LOG_PATH: path, STATE_DIR: join(dir, 'state'), ENV_NAME: 'bench', ALERT_COOLDOWN_SEC: '0' });

let pendingAt = 0;
const alertLatencies: number[] = [];
const notifier: Notifier = {
  name: 'timer',
  notify(a) {
    if (a.status === 'firing' && pendingAt) {
      alertLatencies.push(performance.now() - pendingAt);
      pendingAt = 0;
    }
    return Promise.resolve();
  },
};
const watcher = new Watcher({ config, log: pino({ level: 'warn' }), notifiers: [notifier] });
await watcher.start();

const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? Math.round(s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]! * 100) / 100 : undefined;
};

// 1. Write -> notifier: a retried request ("500, 200" ending on green) is a failover at once.
//    Between trials, blue serves again so the failover resolves.
let i = 0;
const retried = () =>
  makeLine(13, Date.now())
    .replace(/"upstream_status":"[^"]*"/, '"upstream_status":"500, 200"')
    .replace(/"pool":"blue"/, '"pool":"green"')
    .replace(/"upstream_addr":"[^"]*"/, '"upstream_addr":"172.18.0.3:3000, 172.18.0.4:3000"');
const healthy = () => makeLine(14 + (i++ % 13) * 997 * 0, Date.now());
for (let trial = 0; trial < 200; trial++) {
  appendFileSync(path, `${healthy()}\n${healthy()}\n${healthy()}\n`);
  await sleep(5 + Math.random() * 20);
  pendingAt = performance.now();
  appendFileSync(path, `${retried()}\n`);
  const deadline = Date.now() + 2000;
  while (pendingAt && Date.now() < deadline) await sleep(1);
  if (pendingAt) throw new Error('no alert within 2 s');
}

// 2. CPU at a steady 5,000 lines/s for 10 s. The writer is another process, so this process's
//    CPU time is the watcher's alone.
const RATE = 5000;
const SECONDS = 10;
const sample = makeLine(1, Date.now());
const writerSrc = `
const fs = require('node:fs');
const [path, rate, seconds, sample] = process.argv.slice(1);
const t0 = Date.now(); let written = 0;
const tick = () => {
  const el = Date.now() - t0;
  const due = Math.min(Math.floor(el / 1000 * rate), rate * seconds) - written;
  if (due > 0) {
    const t = new Date().toISOString().slice(0, 19) + '+00:00';
    const line = sample.replace(/"time":"[^"]*"/, '"time":"' + t + '"');
    fs.appendFileSync(path, (line + '\\n').repeat(due));
    written += due;
  }
  if (written < rate * seconds) setTimeout(tick, 10); else process.stdout.write(String(written));
};
tick();`;
const before = watcher.snapshot().lines.read;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const child = spawn(process.execPath, ['-e', writerSrc, path, String(RATE), String(SECONDS), sample], { stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
child.stdout.on('data', (d: Buffer) => (out += d.toString()));
await new Promise((r) => child.on('exit', r));
const written = Number(out);
const deadline = Date.now() + 5000;
while (watcher.snapshot().lines.read - before < written && Date.now() < deadline) await sleep(5);
const wall = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const read = watcher.snapshot().lines.read - before;
await watcher.stop();
rmSync(dir, { recursive: true, force: true });

const cpuMs = (cpu.user + cpu.system) / 1000;
console.log(
  JSON.stringify(
    {
      bench: 'watcher live',
      writeToNotifierMs: { trials: alertLatencies.length, p50: pct(alertLatencies, 0.5), p99: pct(alertLatencies, 0.99), max: pct(alertLatencies, 1) },
      steady: {
        linesPerSec: Math.round(written / (wall / 1000)),
        linesWritten: written,
        linesRead: read,
        watcherCpuPctOfOneCore: Math.round((cpuMs / wall) * 1000) / 10,
      },
    },
    null,
    2,
  ),
);
