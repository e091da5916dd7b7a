import type { OpResult } from '../shared/op-result.js';
import { buildProgressMessage, type ProgressView } from './blocks/progress.js';
import type { Block } from './blocks/kit.js';

/** Bolt's respond(): posts to the command's response_url. */
export type RespondFn = (msg: {
  text: string;
  blocks?: Block[];
  response_type?: 'in_channel' | 'ephemeral';
  replace_original?: boolean;
}) => Promise<unknown>;

/**
 * A long command's progress as one message updated in place through response_url. Slack accepts
 * five posts per response_url, so the first and the last are reserved and the steps between are
 * coalesced to at most one post per `minIntervalMs`.
 */
export class RespondProgress {
  static readonly BUDGET = 5;
  readonly #respond: RespondFn;
  readonly #view: ProgressView;
  readonly #minIntervalMs: number;
  readonly #now: () => number;
  readonly #onError: (err: unknown) => void;
  #used = 0;
  #lastAt = -Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #done = false;

  constructor(respond: RespondFn, command: string, userId: string, opts: { minIntervalMs?: number; now?: () => number; onError?: (err: unknown) => void } = {}) {
    this.#respond = respond;
    this.#view = { command, userId, steps: [], state: 'running', outcome: undefined, durationMs: undefined };
    this.#minIntervalMs = opts.minIntervalMs ?? 1000;
    this.#now = opts.now ?? Date.now;
    this.#onError = opts.onError ?? (() => undefined);
  }

  start(): Promise<unknown> {
    return this.#post(false);
  }

  step(text: string): void {
    if (this.#done) return;
    this.#view.steps.push(text);
    if (this.#timer !== undefined) return;
    // Keep one post for the final result.
    if (this.#used >= RespondProgress.BUDGET - 1) return;
    const wait = this.#lastAt + this.#minIntervalMs - this.#now();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#done && this.#used < RespondProgress.BUDGET - 1) this.#post(true).catch(this.#onError);
    }, Math.max(0, wait));
  }

  finish(result: OpResult<unknown>, durationMs: number): Promise<unknown> {
    this.#done = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#view.state = result.status;
    this.#view.outcome = result.status === 'ok' ? result.message : result.status === 'refused' ? result.reason : `${result.message}${result.cause ? ` (${result.cause})` : ''}`;
    this.#view.durationMs = durationMs;
    return this.#post(true);
  }

  #post(replace: boolean): Promise<unknown> {
    this.#used += 1;
    this.#lastAt = this.#now();
    const m = buildProgressMessage(this.#view);
    const msg = replace ? { ...m, replace_original: true } : { ...m, response_type: 'in_channel' as const };
    // One failed post (an expired response_url) must not stop the ones after it.
    this.#chain = this.#chain.catch(() => undefined).then(() => this.#respond(msg));
    return this.#chain;
  }
}
