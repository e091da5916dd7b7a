// Live latency of the watcher: a writer appends access-log lines; we time from the write to the
// notifier call (alerts) and to the line being counted, and measure CPU at a steady 5,000 lines/s.
// Prints JSON. Run: npx tsx bench/watcher-live.ts
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import type { Notifier } from '../src/watcher/alert.js';
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

// 2. CPU at a steady 5,000 lines/s for 10 s: batches every 10 ms.
const RATE = 5000;
const SECONDS = 10;
const before = watcher.snapshot().lines.read;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let written = 0;
while (performance.now() - t0 < SECONDS * 1000) {
  const due = Math.floor(((performance.now() - t0) / 1000) * RATE) - written;
  if (due > 0) {
    const lines = [];
    for (let k = 0; k < due; k++) lines.push(makeLine(written + k, Date.now()));
    appendFileSync(path, lines.join('\n') + '\n');
    written += due;
  }
  await sleep(10);
}
const wall = performance.now() - t0;
await sleep(200);
const cpu = process.cpuUsage(cpu0);
// The writer runs in this process too: measure its share alone and subtract it.
const w0 = process.cpuUsage();
const tw = performance.now();
for (let k = 0; k < written; k += 50) {
  const lines = [];
  for (let j = 0; j < 50; j++) lines.push(makeLine(k + j, Date.now()));
  appendFileSync(join(dir, 'writer-only.log'), lines.join('\n') + '\n');
}
const writerCpu = process.cpuUsage(w0);
const writerWall = performance.now() - tw;
const read = watcher.snapshot().lines.read - before;
await watcher.stop();
rmSync(dir, { recursive: true, force: true });

const totalCpuMs = (cpu.user + cpu.system) / 1000;
const writerCpuMs = (writerCpu.user + writerCpu.system) / 1000;
console.log(
  JSON.stringify(
    {
      bench: 'watcher live',
      writeToNotifierMs: { trials: alertLatencies.length, p50: pct(alertLatencies, 0.5), p99: pct(alertLatencies, 0.99), max: pct(alertLatencies, 1) },
      steady: {
        linesPerSec: Math.round(written / (wall / 1000)),
        linesWritten: written,
        linesRead: read,
        cpuPctOfOneCoreIncludingWriter: Math.round((totalCpuMs / wall) * 1000) / 10,
        writerAloneCpuMs: Math.round(writerCpuMs),
        writerAloneWallMs: Math.round(writerWall),
        watcherCpuPctOfOneCore: Math.round(((totalCpuMs - writerCpuMs) / wall) * 1000) / 10,
      },
    },
    null,
    2,
  ),
);
