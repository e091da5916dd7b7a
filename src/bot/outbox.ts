import type { Logger } from '../log.js';
import { isBlocksRejected, judgeSlackError, type Verdict } from './slack-errors.js';

/** One Web API call, e.g. ('chat.postMessage', {channel, text, blocks}), or one post to an incoming webhook. */
export type ApiCall = (method: string, args: Record<string, unknown>) => Promise<Record<string, unknown>>;

/**
 * What to send, decided when the message reaches the head of its channel's queue: by then every
 * earlier message of that channel is delivered, so an update can use the ts its post returned.
 * Returning undefined skips the item (e.g. its parent message could never be posted).
 */
export type Build = () => { method: string; args: Record<string, unknown> } | undefined;

interface Item {
  build: Build;
  resolve: (r: Record<string, unknown> | undefined) => void;
  reject: (err: Error) => void;
  textOnly: boolean;
}

export interface OutboxOptions {
  call: ApiCall;
  log: Logger;
  /** Who the calls go to, in log lines ('slack' unless told). */
  name?: string;
  /** Whether a failed call is worth retrying, and when; Slack Web API errors (judgeSlackError) unless told. */
  judge?: (err: unknown) => Verdict;
  /** Least time between two calls to one channel; Slack allows about one message per second. */
  minIntervalMs?: number;
  /** First retry delay when Slack gives no Retry-After; doubles up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  onRetry?: (method: string, why: string) => void;
  onResult?: (method: string, result: 'ok' | 'failed') => void;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * One ordered queue per channel: the one delivery queue of every outbound notifier (the Slack Web
 * API, and the incoming webhook with one queue). A message waits for every earlier message of its
 * channel; errors and 429s are retried (honouring Retry-After) for as long as the process lives;
 * only a call the other end will never accept (channel_not_found, invalid_auth, a 400…) is given
 * up, and logged.
 */
export class Outbox {
  readonly #opts: Required<Omit<OutboxOptions, 'onRetry' | 'onResult'>> & Pick<OutboxOptions, 'onRetry' | 'onResult'>;
  readonly #queues = new Map<string, Item[]>();
  readonly #lastSent = new Map<string, number>();
  readonly #running = new Set<string>();
  readonly #idle: (() => void)[] = [];
  #stopped = false;

  constructor(opts: OutboxOptions) {
    this.#opts = {
      name: 'slack',
      judge: judgeSlackError,
      minIntervalMs: 1000,
      backoffMs: 1000,
      maxBackoffMs: 30_000,
      sleep: realSleep,
      now: Date.now,
      ...opts,
    };
  }

  /** Queue a call for `channel`; resolves with Slack's answer once delivered (undefined if skipped). */
  send(channel: string, build: Build): Promise<Record<string, unknown> | undefined> {
    return new Promise((resolve, reject) => {
      const q = this.#queues.get(channel) ?? [];
      q.push({ build, resolve, reject, textOnly: false });
      this.#queues.set(channel, q);
      if (!this.#running.has(channel)) void this.#pump(channel);
    });
  }

  /** Messages not yet delivered, all channels. */
  get pending(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.length;
    return n;
  }

  /** Resolves when every queue is empty, or, after stop(), once no call is in flight. */
  drain(): Promise<void> {
    if (this.#settled()) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  #settled(): boolean {
    return this.pending === 0 || (this.#stopped && this.#running.size === 0);
  }

  /** Stop retrying; queued messages are abandoned (process shutdown). */
  stop(): void {
    this.#stopped = true;
  }

  async #pump(channel: string): Promise<void> {
    this.#running.add(channel);
    const { call, log, name, judge, minIntervalMs, backoffMs, maxBackoffMs, sleep, now } = this.#opts;
    const q = this.#queues.get(channel) ?? [];
    let backoff = backoffMs;
    while (q.length > 0 && !this.#stopped) {
      const item = q[0] as Item;
      const wait = (this.#lastSent.get(channel) ?? -Infinity) + minIntervalMs - now();
      if (wait > 0) await sleep(wait);
      let request: ReturnType<Build>;
      try {
        request = item.build();
      } catch (err) {
        q.shift();
        item.reject(err instanceof Error ? err : new Error(String(err)));
        continue;
      }
      if (request === undefined) {
        q.shift();
        item.resolve(undefined);
        continue;
      }
      const args = item.textOnly ? withoutBlocks(request.args) : request.args;
      this.#lastSent.set(channel, now());
      try {
        const answer = await call(request.method, args);
        q.shift();
        backoff = backoffMs;
        this.#opts.onResult?.(request.method, 'ok');
        item.resolve(answer);
        // Let the sender's .then() (e.g. keeping the ts of a post) run before the next item is built.
        await new Promise<void>((r) => setImmediate(r));
      } catch (err) {
        const verdict = judge(err);
        if (verdict.retry) {
          const delay = verdict.afterMs ?? backoff;
          backoff = Math.min(backoff * 2, maxBackoffMs);
          this.#opts.onRetry?.(request.method, verdict.why);
          log.warn({ channel, method: request.method, why: verdict.why, retryInMs: delay, queued: q.length }, `${name} call failed; will retry`);
          await sleep(delay);
          continue;
        }
        if (!item.textOnly && isBlocksRejected(verdict.why)) {
          // Better a plain alert than none: send the fallback text alone.
          log.error({ channel, method: request.method, why: verdict.why }, `${name} rejected the blocks; sending text only`);
          item.textOnly = true;
          continue;
        }
        q.shift();
        this.#opts.onResult?.(request.method, 'failed');
        log.error({ channel, method: request.method, why: verdict.why }, `${name} refused the call; giving up on this message`);
        item.reject(new Error(`${request.method} to ${channel} failed: ${verdict.why}`));
      }
    }
    this.#running.delete(channel);
    if (this.#settled()) for (const r of this.#idle.splice(0)) r();
  }
}

function withoutBlocks(args: Record<string, unknown>): Record<string, unknown> {
  const { blocks: _blocks, ...rest } = args;
  return rest;
}
