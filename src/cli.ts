#!/usr/bin/env node
import { userInfo } from 'node:os';
import { parseCommand } from './commands/parse-command.js';
import { renderText } from './commands/render-text.js';
import { createLineProgress } from './commands/progress.js';
import { helpText, runCommand } from './commands/run-command.js';
import { ConfigError, loadConfig, metricsUrl } from './config.js';
import { createDeployLayer } from './deploy/create-deploy-layer.js';
import { drillProbe, runDrill } from './deploy/use-cases/drill.js';
import type { PoolStats } from './deploy/operations.js';
import type { Pool } from './pool.js';
import { ok, type OpResult } from './shared/op-result.js';
import type { Actor } from './shared/actor.js';
import { createLogger } from './log.js';

// `bluegreen <command> [--json]`: the same grammar and operations as /bluegreen in Slack, talking to
// Docker and nginx directly (run as `docker compose exec bot bluegreen status`).
// Exit codes: 0 ok, 1 failed, 2 usage, 3 refused, 78 bad configuration.

const EXIT = { ok: 0, failed: 1, usage: 2, refused: 3, config: 78 } as const;

function actor(): Actor {
  let name = 'cli';
  try {
    name = userInfo().username;
  } catch {
    // No passwd entry for the uid (a bare container user): keep the generic name.
  }
  return { kind: 'cli', id: `cli:${name}`, name: `${name} (cli)` };
}

/** The bot's per-pool figures (GET /pool-stats on its metrics listener), or undefined when the bot does not answer at once. */
async function botPoolStats(url: string): Promise<Record<Pool, PoolStats> | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return res.ok ? ((await res.json()) as Record<Pool, PoolStats>) : undefined;
  } catch {
    return undefined;
  }
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const words = argv.filter((a) => a !== '--json');
  const out = (text: string) => process.stdout.write(`${text}\n`);
  const parsed = parseCommand(words.join(' '));
  if ('error' in parsed) {
    if (json) out(JSON.stringify({ status: 'usage', error: parsed.error, usage: parsed.usage }));
    else process.stderr.write(`bluegreen: ${parsed.error}\nusage: bluegreen ${parsed.usage.split('\n').join('\n       bluegreen ')}\n`);
    return EXIT.usage;
  }
  const cmd = parsed.ok;

  let result: OpResult<unknown>;
  if (cmd.name === 'help') {
    result = ok(helpText());
  } else {
    let config;
    try {
      config = loadConfig();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      process.stderr.write(`bluegreen: ${err.message}\n`);
      return EXIT.config;
    }
    // Logs go to stderr so stdout stays the answer (and valid JSON with --json).
    const log = createLogger({ level: config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL, destination: process.stderr });
    // status shows the watcher's figures, which live in the bot process: ask it (same container).
    const stats = cmd.name === 'status' ? await botPoolStats(metricsUrl(config, '/pool-stats')) : undefined;
    const layer = createDeployLayer({ config, log, ...(stats ? { poolStats: (pool) => stats[pool] } : {}) });
    const by = actor();
    // Steps go to stderr with the elapsed time, so stdout stays the answer.
    const progress = createLineProgress((line) => process.stderr.write(line));
    result = await runCommand(cmd, {
      ops: layer.ops,
      by,
      progress,
      // The bot process (same container) owns the watcher: the drill reads its alerts from /metrics.
      drill: (p) => runDrill({ ops: layer.ops, by, nginxUrl: config.NGINX_URL, probe: drillProbe(config), metricsUrl: metricsUrl(config, '/metrics'), progress: p }),
    });
  }
  out(json ? JSON.stringify(result, null, 2) : renderText(result, cmd.name));
  return EXIT[result.status];
}

process.exitCode = await main(process.argv.slice(2));
