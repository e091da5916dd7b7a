// npm run bench:watcher — replays a generated 1,000,000-line access log through the real
// tail -> parse -> window -> detectors -> policy path and prints JSON figures.
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import type { AlertEvent, Notifier } from '../src/shared/alert.js';
import { Watcher } from '../src/watcher/watcher.js';
import { makeLine } from './watcher-lines.js';

const LINES = Number(process.argv[2] ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'bench-watcher-'));
const path = join(dir, 'access.json.log');

const fd = openSync(path, 'w');
const start = Date.parse('2026-11-22T20:00:00Z');
let batch: string[] = [];
for (let i = 0; i < LINES; i++) {
  batch.push(makeLine(i, start + i)); // 1,000 requests per second of log time
  if (batch.length === 10_000) {
    writeSync(fd, batch.join('\n') + '\n');
    batch = [];
  }
}
if (batch.length) writeSync(fd, batch.join('\n') + '\n');
// On disk before timing starts: the kernel writing 345 MB back during the runs would be measured too.
fsyncSync(fd);
closeSync(fd);
const bytes = statSync(path).size;

const alerts: AlertEvent[] = [];
const counter: Notifier = { name: 'count', notify: (a) => (alerts.push(a), Promise.resolve()) };
const config = loadConfig({ ACCESS_LOG_PATH: path, STATE_DIR: join(dir, 'state'), ENV_NAME: 'bench' });
const log = pino({ level: 'warn' });

const runs: number[] = [];
let lastSnapshot;
// Best of RUNS: the figure is what the code can do; the median shows what a noisy machine gave.
const RUNS = 5;
for (let run = 0; run < RUNS; run++) {
  rmSync(join(dir, 'state'), { recursive: true, force: true });
  const watcher = new Watcher({ config, log, notifiers: [counter], tail: { startAt: 'start', pollMs: 60_000 } });
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await watcher.start();
  await watcher.poke();
  const ns = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  lastSnapshot = watcher.snapshot();
  await watcher.stop();
  if (lastSnapshot.lines.read !== LINES) throw new Error(`read ${lastSnapshot.lines.read} of ${LINES} lines`);
  runs.push(ns);
  if (run === RUNS - 1) {
    const best = Math.min(...runs);
    const median = [...runs].sort((a, b) => a - b)[RUNS >> 1]!;
    console.log(
      JSON.stringify(
        {
          bench: 'watcher replay',
          lines: LINES,
          fileBytes: bytes,
          avgLineBytes: Math.round(bytes / LINES),
          runsMs: runs.map((r) => Math.round(r / 1e6)),
          linesPerSec: Math.round((LINES / best) * 1e9),
          medianLinesPerSec: Math.round((LINES / median) * 1e9),
          nsPerLine: Math.round(best / LINES),
          cpuMsLastRun: Math.round((cpu.user + cpu.system) / 1000),
          rssMB: Math.round(process.memoryUsage().rss / 1e6),
          alertsRaised: alerts.length,
          malformed: lastSnapshot.lines.malformed,
        },
        null,
        2,
      ),
    );
  }
}
rmSync(dir, { recursive: true, force: true });
