import { LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import type { Logger } from '../log.js';

/**
 * Bolt (and its WebClient and Socket Mode client) log through this, so their lines are pino JSON
 * with the same redaction as ours. Bolt calls it with loose argument lists: `('msg', err, 42)`.
 */
export function boltLogger(log: Logger): BoltLogger {
  let name = 'bolt';
  let child = log.child({ component: name });
  const write = (level: 'debug' | 'info' | 'warn' | 'error', msg: unknown[]) => {
    const err = msg.find((m): m is Error => m instanceof Error);
    const text = msg
      .filter((m) => m !== err)
      .map((m) => (typeof m === 'string' ? m : safeJson(m)))
      .join(' ');
    if (err) child[level]({ err }, text || err.message);
    else child[level](text);
  };
  return {
    debug: (...msg: unknown[]) => write('debug', msg),
    info: (...msg: unknown[]) => write('info', msg),
    warn: (...msg: unknown[]) => write('warn', msg),
    error: (...msg: unknown[]) => write('error', msg),
    // Bolt sets a default level at construction; LOG_LEVEL (the root logger's level) stays in charge.
    setLevel: () => undefined,
    getLevel: () => {
      const l = child.level;
      return l === 'debug' || l === 'trace' ? LogLevel.DEBUG : l === 'warn' ? LogLevel.WARN : l === 'error' || l === 'fatal' ? LogLevel.ERROR : LogLevel.INFO;
    },
    setName: (n: string) => {
      name = n;
      child = log.child({ component: name });
    },
  };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}
