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

/** Which messages may go when the outbox is full, and what goes with them. */
export interface SendOptions {
  /** 'info' (audit lines, the messages of operations) is dropped before 'alert' [alert]. */
  kind?: 'alert' | 'info';
  /** This message is a post later messages depend on (their build reads its ts): any object naming that group. Dropping the post drops them too. */
  opens?: object;
  /** This message depends on the post that opened the group (an update of it, a reply in its thread). */
  follows?: object;
}

interface Item {
  build: Build;
  resolve: (r: Record<string, unknown> | undefined) => void;
  reject: (err: Error) => void;
  textOnly: boolean;
  /** 'notice': the outbox's own message saying what it dropped; never dropped itself. */
  kind: 'alert' | 'info' | 'notice';
  opens: object | undefined;
  follows: object | undefined;
  /** Order of sending, all channels: the oldest is dropped first. */
  seq: number;
}

/** The message that says how many messages of a channel were dropped. */
export type DropNotice = (channel: string, dropped: number) => { method: string; args: Record<string, unknown> };

const slackDropNotice: DropNotice = (channel, n) => ({
  method: 'chat.postMessage',
  args: {
    channel,
    text: `:warning: ${n} message${n === 1 ? ' was' : 's were'} dropped while Slack was unreachable or slow (audit lines first, then the oldest alerts). The bot's log has every alert, STATE_DIR/audit.jsonl every operation.`,
  },
});

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
  /** Most messages waiting, all channels together; past it the oldest droppable one is dropped. */
  max?: number;
  /** What to send a channel that lost messages, once a call to it goes through again [a Slack post]. */
  dropNotice?: DropNotice;
  /** While drops go on, least time between two notices to one channel; drops meanwhile are added to the next. */
  noticeIntervalMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  onRetry?: (method: string, why: string) => void;
  onResult?: (method: string, result: 'ok' | 'failed') => void;
  onDrop?: (dropped: number) => void;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * One ordered queue per channel: the one delivery queue of every outbound notifier (the Slack Web
 * API, and the incoming webhook with one queue). A message waits for every earlier message of its
 * channel; errors and 429s are retried (honouring Retry-After) for as long as the process lives;
 * only a call the other end will never accept (channel_not_found, invalid_auth, a 400…) is given
 * up, and logged.
 *
 * Bounded: past `max` waiting messages (all channels), the oldest 'info' message is dropped, else the
 * oldest alert; never the head of a queue (it may be in flight) and never out of order: what is left
 * goes in the order it was sent. A post that opens a group goes with the updates and replies that
 * follow it (they could not be sent without its ts); an update or reply may go alone (the post, or
 * a later update, shows the incident as it is by then). A dropped message's send() resolves with
 * undefined, as a skipped one does. Drops are counted per channel and logged; once a call to the
 * channel goes through again, the next message is a notice of how many were dropped (at most one a
 * noticeIntervalMs while drops go on, and one when its queue has drained).
 */
export class Outbox {
  readonly #opts: Required<Omit<OutboxOptions, 'onRetry' | 'onResult' | 'onDrop'>> & Pick<OutboxOptions, 'onRetry' | 'onResult' | 'onDrop'>;
  readonly #queues = new Map<string, Item[]>();
  readonly #lastSent = new Map<string, number>();
  readonly #running = new Set<string>();
  readonly #idle: (() => void)[] = [];
  /** Dropped and not yet told, per channel. */
  readonly #unreported = new Map<string, number>();
  readonly #lastNotice = new Map<string, number>();
  /** Channels whose last call went through: a notice sent now would arrive. */
  readonly #reachable = new Set<string>();
  #seq = 0;
  #dropped = 0;
  #stopped = false;

  constructor(opts: OutboxOptions) {
    this.#opts = {
      name: 'slack',
      judge: judgeSlackError,
      minIntervalMs: 1000,
      backoffMs: 1000,
      maxBackoffMs: 30_000,
      max: 1000,
      dropNotice: slackDropNotice,
      noticeIntervalMs: 60_000,
      sleep: realSleep,
      now: Date.now,
      ...opts,
    };
  }

  /** Queue a call for `channel`; resolves with Slack's answer once delivered (undefined if skipped or dropped). */
  send(channel: string, build: Build, opts: SendOptions = {}): Promise<Record<string, unknown> | undefined> {
    return new Promise((resolve, reject) => {
      const q = this.#queues.get(channel) ?? [];
      q.push({ build, resolve, reject, textOnly: false, kind: opts.kind ?? 'alert', opens: opts.opens, follows: opts.follows, seq: this.#seq++ });
      this.#queues.set(channel, q);
      while (this.pending > this.#opts.max && this.#dropOldest());
      if (!this.#running.has(channel)) void this.#pump(channel);
    });
  }

  /** Messages dropped because the outbox was full, since it was made. */
  get dropped(): number {
    return this.#dropped;
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
    // A queue is pumped until it is empty (its drop notice sent too), or until stop().
    return this.#running.size === 0;
  }

  /** Stop retrying; queued messages are abandoned (process shutdown). */
  stop(): void {
    this.#stopped = true;
    for (const [channel, dropped] of this.#unreported) this.#opts.log.warn({ channel, dropped }, `${this.#opts.name} outbox stopped before it could say that messages were dropped`);
  }

  /**
   * Drops the oldest 'info' message, else the oldest alert, with the messages that follow it; never
   * a queue's head nor a drop notice. False when nothing may be dropped.
   */
  #dropOldest(): boolean {
    let victim: { channel: string; q: Item[]; item: Item } | undefined;
    const rank = (it: Item) => (it.kind === 'info' ? 0 : 1);
    for (const [channel, q] of this.#queues) {
      for (let i = 1; i < q.length; i += 1) {
        const item = q[i] as Item;
        if (item.kind === 'notice') continue;
        if (!victim || rank(item) < rank(victim.item) || (rank(item) === rank(victim.item) && item.seq < victim.item.seq)) victim = { channel, q, item };
        // Within a queue the first of each kind is its oldest.
        if (rank(item) === 0) break;
      }
    }
    if (!victim) return false;
    const { channel, q, item } = victim;
    const gone = q.filter((it, i) => i > 0 && (it === item || (item.opens !== undefined && it.follows === item.opens)));
    for (const it of gone) q.splice(q.indexOf(it), 1);
    const before = this.#unreported.get(channel) ?? 0;
    this.#unreported.set(channel, before + gone.length);
    this.#dropped += gone.length;
    const { log, name, max } = this.#opts;
    if (before === 0) log.warn({ channel, max, kind: item.kind }, `${name} outbox full: dropping the oldest messages (audit lines first) until it can say how many`);
    log.debug({ channel, kind: item.kind, dropped: gone.length, unreported: before + gone.length }, `${name} outbox dropped a message`);
    this.#opts.onDrop?.(gone.length);
    for (const it of gone) it.resolve(undefined);
    return true;
  }

  /** Whether to send the drop notice of `channel` next: drops untold, the channel reachable, and the last notice long enough ago (or the queue drained). */
  #noticeDue(channel: string, q: Item[]): boolean {
    if (!this.#unreported.has(channel) || !this.#reachable.has(channel)) return false;
    return q.length === 0 || this.#opts.now() - (this.#lastNotice.get(channel) ?? -Infinity) >= this.#opts.noticeIntervalMs;
  }

  #notice(channel: string): Item {
    const { log, name, dropNotice, now } = this.#opts;
    const dropped = this.#unreported.get(channel) ?? 0;
    this.#unreported.delete(channel);
    this.#lastNotice.set(channel, now());
    log.warn({ channel, dropped }, `${name} outbox dropped ${dropped} message(s); telling the channel`);
    return {
      build: () => dropNotice(channel, dropped),
      resolve: () => undefined,
      reject: (err) => log.error({ err, channel, dropped }, `the notice of ${dropped} dropped message(s) could not be sent`),
      textOnly: false,
      kind: 'notice',
      opens: undefined,
      follows: undefined,
      seq: this.#seq++,
    };
  }

  async #pump(channel: string): Promise<void> {
    this.#running.add(channel);
    const { call, log, name, judge, minIntervalMs, backoffMs, maxBackoffMs, sleep, now } = this.#opts;
    const q = this.#queues.get(channel) ?? [];
    let backoff = backoffMs;
    while ((q.length > 0 || this.#noticeDue(channel, q)) && !this.#stopped) {
      if (this.#noticeDue(channel, q)) q.unshift(this.#notice(channel));
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
        this.#reachable.add(channel);
        backoff = backoffMs;
        if (item.kind !== 'notice') this.#opts.onResult?.(request.method, 'ok');
        item.resolve(answer);
        // Let the sender's .then() (e.g. keeping the ts of a post) run before the next item is built.
        await new Promise<void>((r) => setImmediate(r));
      } catch (err) {
        const verdict = judge(err);
        if (verdict.retry) {
          this.#reachable.delete(channel);
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
        if (item.kind !== 'notice') this.#opts.onResult?.(request.method, 'failed');
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
