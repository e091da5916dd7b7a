import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { AlertEvent, Notifier } from '../shared/alert.js';

/** Turns an alert into the JSON body an incoming webhook takes; the Slack layer may supply a richer one. */
export type RenderAlert = (alert: AlertEvent) => unknown;

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
  sleep?: (ms: number) => Promise<void>;
}

export interface DeliveryStats {
  queued: number;
  delivered: number;
  retries: number;
  failed: number;
  /** ms from notify() to a 2xx, last delivery. */
  lastLatencyMs: number | undefined;
}

/**
 * Slack incoming webhook. Alerts wait in one ordered queue and are sent one at a time, so a
 * resolution never overtakes its firing; a 429 waits for Retry-After, a 5xx or network error backs
 * off and retries the same alert. Nothing is dropped while the process lives, except an alert the
 * webhook refuses outright (4xx other than 408/429: bad payload, revoked URL), which retrying
 * cannot fix: it is logged with the alert and counted as failed.
 */
export class WebhookNotifier implements Notifier {
  readonly name = 'webhook';
  readonly #o: Required<Omit<WebhookNotifierOptions, 'metrics'>> & Pick<WebhookNotifierOptions, 'metrics'>;
  #queue: { alert: AlertEvent; at: number }[] = [];
  #running = false;
  #idle: (() => void)[] = [];
  #stopped = false;
  readonly stats: DeliveryStats = { queued: 0, delivered: 0, retries: 0, failed: 0, lastLatencyMs: undefined };

  constructor(options: WebhookNotifierOptions) {
    this.#o = {
      render: renderSimple,
      fetch: globalThis.fetch,
      timeoutMs: 10_000,
      backoffMs: 500,
      maxBackoffMs: 30_000,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      ...options,
    };
  }

  notify(alert: AlertEvent): Promise<void> {
    this.#queue.push({ alert, at: Date.now() });
    this.stats.queued = this.#queue.length;
    if (!this.#running) void this.#run();
    return Promise.resolve();
  }

  /** Resolves when the queue is empty. */
  idle(): Promise<void> {
    if (!this.#running && this.#queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  /** Stop after the alert in flight; what is still queued is logged so it is not lost silently. */
  stop(): void {
    this.#stopped = true;
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0 && !this.#stopped) {
        const item = this.#queue[0]!;
        await this.#deliver(item.alert, item.at);
        this.#queue.shift();
        this.stats.queued = this.#queue.length;
      }
      if (this.#stopped && this.#queue.length > 0) {
        this.#o.log.error({ alerts: this.#queue.map((q) => q.alert) }, 'webhook notifier stopped with alerts not delivered');
      }
    } finally {
      this.#running = false;
      const w = this.#idle;
      this.#idle = [];
      for (const r of w) r();
    }
  }

  async #deliver(alert: AlertEvent, queuedAt: number): Promise<void> {
    const body = JSON.stringify(this.#o.render(alert));
    let backoff = this.#o.backoffMs;
    for (let attempt = 1; !this.#stopped; attempt++) {
      let wait: number;
      try {
        const res = await this.#o.fetch(this.#o.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(this.#o.timeoutMs),
        });
        const text = await res.text().catch(() => '');
        if (res.ok) {
          this.stats.delivered++;
          this.stats.lastLatencyMs = Date.now() - queuedAt;
          this.#o.metrics?.alertDeliveries.inc({ notifier: this.name, result: 'ok' });
          return;
        }
        if (res.status === 429) {
          wait = retryAfterMs(res.headers.get('retry-after')) ?? backoff;
        } else if (res.status >= 500 || res.status === 408) {
          wait = backoff;
          backoff = Math.min(backoff * 2, this.#o.maxBackoffMs);
        } else {
          this.stats.failed++;
          this.#o.metrics?.alertDeliveries.inc({ notifier: this.name, result: 'failed' });
          this.#o.log.error({ status: res.status, body: text.slice(0, 200), alert }, 'webhook refused the alert; not retrying');
          return;
        }
        this.#o.log.warn({ status: res.status, attempt, waitMs: wait, key: alert.key }, 'webhook delivery failed; retrying');
      } catch (err) {
        wait = backoff;
        backoff = Math.min(backoff * 2, this.#o.maxBackoffMs);
        this.#o.log.warn({ err: (err as Error).message, attempt, waitMs: wait, key: alert.key }, 'webhook unreachable; retrying');
      }
      this.stats.retries++;
      this.#o.metrics?.alertDeliveries.inc({ notifier: this.name, result: 'retry' });
      await this.#o.sleep(wait);
    }
  }
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
