import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { AlertEvent, Notifier } from '../shared/alert.js';
import { Outbox, type ApiCall } from './outbox.js';
import type { Verdict } from './slack-errors.js';

/** Turns an alert into the JSON body an incoming webhook takes; the Slack layer may supply a richer one. */
export type RenderAlert = (alert: AlertEvent) => Record<string, unknown>;

export interface WebhookNotifierOptions {
  url: string;
  log: Logger;
  metrics?: Pick<Metrics, 'alertDeliveries'>;
  render?: RenderAlert;
  /** Injected for tests; the global fetch otherwise. */
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** Backoff after a 5xx or network error: first wait, doubled up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Most alerts waiting; past it the oldest is dropped, and once the webhook answers again a post says how many [1000]. */
  maxQueued?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface DeliveryStats {
  queued: number;
  delivered: number;
  retries: number;
  failed: number;
  /** Dropped because maxQueued alerts were waiting. */
  dropped: number;
  /** ms from notify() to a 2xx, last delivery. */
  lastLatencyMs: number | undefined;
}

/**
 * Slack incoming webhook (alerts only, no buttons: the mode without a bot token). Alerts go through
 * the same `Outbox` as the Slack bot's messages, in one ordered queue, one at a time, so a
 * resolution never overtakes its firing; a 429 waits for Retry-After, a 5xx or network error backs
 * off and retries the same alert. An alert the webhook refuses outright (4xx other than 408/429: bad
 * payload, revoked URL), which retrying cannot fix, is logged with the alert and counted as failed.
 * While the webhook is down at most maxQueued alerts wait: past it the oldest are dropped (every
 * alert is in the log notifier's lines too), counted, and a post says how many once it answers again.
 */
export class WebhookNotifier implements Notifier {
  readonly name = 'webhook';
  readonly stats: DeliveryStats = { queued: 0, delivered: 0, retries: 0, failed: 0, dropped: 0, lastLatencyMs: undefined };
  readonly #outbox: Outbox;
  readonly #render: RenderAlert;
  readonly #log: Logger;
  /** Alerts neither delivered nor given up yet, to log if the notifier is stopped before. */
  readonly #waiting = new Set<AlertEvent>();

  constructor({ url, log, metrics, render = renderSimple, fetch = globalThis.fetch, timeoutMs = 10_000, backoffMs = 500, maxBackoffMs = 30_000, maxQueued, sleep }: WebhookNotifierOptions) {
    this.#render = render;
    this.#log = log;
    this.#outbox = new Outbox({
      name: this.name,
      call: postToWebhook(url, fetch, timeoutMs),
      judge: judgeWebhookError,
      log,
      // Delivered as fast as the webhook takes them; a 429 says when to come back.
      minIntervalMs: 0,
      backoffMs,
      maxBackoffMs,
      ...(maxQueued === undefined ? {} : { max: maxQueued }),
      dropNotice: (_channel, n) => ({
        method: 'POST',
        args: { text: `:warning: ${n} alert${n === 1 ? ' was' : 's were'} dropped while this webhook was unreachable (the oldest first); the bot's log has every alert.` },
      }),
      ...(sleep ? { sleep } : {}),
      onRetry: () => {
        this.stats.retries++;
        metrics?.alertDeliveries.inc({ notifier: this.name, result: 'retry' });
      },
      onResult: (_method, result) => {
        if (result === 'ok') this.stats.delivered++;
        else this.stats.failed++;
        this.stats.queued = this.#outbox.pending;
        metrics?.alertDeliveries.inc({ notifier: this.name, result });
      },
      onDrop: (n) => {
        this.stats.dropped += n;
        this.stats.queued = this.#outbox.pending;
        metrics?.alertDeliveries.inc({ notifier: this.name, result: 'dropped' }, n);
      },
    });
  }

  /** Queues the alert; every alert shares one queue, as the webhook posts to one channel. */
  notify(alert: AlertEvent): Promise<void> {
    const queuedAt = Date.now();
    this.#waiting.add(alert);
    this.#outbox
      .send(this.name, () => ({ method: 'POST', args: this.#render(alert) }))
      .then(
        (answer) => {
          // undefined: dropped (the outbox logged it).
          if (answer) this.stats.lastLatencyMs = Date.now() - queuedAt;
        },
        (err: unknown) => this.#log.error({ err, alert }, 'webhook refused the alert; not retrying'),
      )
      .finally(() => this.#waiting.delete(alert));
    this.stats.queued = this.#outbox.pending;
    return Promise.resolve();
  }

  /** Resolves when the queue is empty (or, after stop(), once the alert in flight is done). */
  idle(): Promise<void> {
    return this.#outbox.drain();
  }

  /** Stop after the alert in flight; what is still queued is logged so it is not lost silently. */
  stop(): void {
    this.#outbox.stop();
    void this.#outbox.drain().then(() => {
      if (this.#waiting.size > 0) this.#log.error({ alerts: [...this.#waiting] }, 'webhook notifier stopped with alerts not delivered');
    });
  }
}

/** A post the webhook answered with other than 2xx (status set), or could not be made (no status). */
class WebhookError extends Error {
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, answer: { status?: number; retryAfterMs?: number | undefined; cause?: unknown }) {
    super(message, { cause: answer.cause });
    this.status = answer.status;
    this.retryAfterMs = answer.retryAfterMs;
  }
}

/** One POST of a rendered alert; throws a WebhookError for judgeWebhookError to weigh. */
function postToWebhook(url: string, fetchFn: typeof fetch, timeoutMs: number): ApiCall {
  return async (_method, message) => {
    const body = JSON.stringify(message);
    let res: Response;
    try {
      res = await fetchFn(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      throw new WebhookError(`unreachable: ${(err as Error).message}`, { cause: err });
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) throw new WebhookError(`HTTP ${res.status}: ${text.slice(0, 200)}`, { status: res.status, retryAfterMs: retryAfterMs(res.headers.get('retry-after')) });
    return {};
  };
}

/** 429: wait for Retry-After; 408, 5xx, no answer: back off and retry; any other 4xx: retrying cannot fix it. */
export function judgeWebhookError(err: unknown): Verdict {
  if (!(err instanceof WebhookError)) return { retry: false, why: err instanceof Error ? err.message : String(err) };
  const { status } = err;
  if (status === undefined || status === 408 || status >= 500) return { retry: true, afterMs: undefined, why: err.message };
  if (status === 429) return { retry: true, afterMs: err.retryAfterMs, why: `rate limited (Retry-After ${err.retryAfterMs ?? '?'} ms)` };
  return { retry: false, why: err.message };
}

/** Retry-After in seconds (Slack's form) or an HTTP date. */
function retryAfterMs(v: string | null): number | undefined {
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

const ICON: Record<string, string> = { critical: ':red_circle:', warning: ':large_orange_circle:', info: ':large_blue_circle:' };

/** Plain text + simple blocks that any incoming webhook accepts. */
export function renderSimple(a: AlertEvent): { text: string; blocks: unknown[] } {
  const icon = a.status === 'resolved' ? ':white_check_mark:' : (ICON[a.severity] ?? '');
  const text = `${icon} [${a.env}] ${a.title}`;
  const value =
    a.observed === undefined ? '' : `observed ${a.observed}${a.unit ?? ''}${a.threshold === undefined ? '' : ` (threshold ${a.threshold}${a.unit ?? ''})`}`;
  const facts = [
    `*pool* ${a.pool ?? 'all'}`,
    `*release* ${a.release ?? 'unknown'}`,
    value,
    `window ${a.samples}/${a.windowSize} requests`,
    a.explainedBy.length ? `explained by: ${a.explainedBy.join(', ')}` : '',
  ].filter((s) => s.length > 0);
  const blocks: unknown[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `${text}\n${a.summary}`.slice(0, 2900) } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: facts.join(' · ').slice(0, 2900) }] },
  ];
  if (a.sampleLines.length > 0 && a.status === 'firing') {
    const lines = a.sampleLines.slice(0, 3).map((l) => l.slice(0, 600));
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `\`\`\`${lines.join('\n')}\`\`\``.slice(0, 2900) } });
  }
  return { text, blocks };
}
