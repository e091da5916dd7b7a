/**
 * The Slack requests already passed on, each kept until its timestamp leaves the 5-minute window
 * (after that the window refuses it anyway). Bounded: when `max` requests are live at once, a new
 * one is refused rather than an old one forgotten (forgetting would let that one be replayed).
 */
export class SeenRequests {
  readonly #expiry = new Map<string, number>();
  readonly #max: number;
  #sweptAt = 0;

  constructor(max = 10_000) {
    this.#max = max;
  }

  get size(): number {
    return this.#expiry.size;
  }

  /** 'new' (now remembered until `expiresAtSec`), 'seen' (a replay), or 'full'. */
  remember(key: string, expiresAtSec: number, nowSec: number): 'new' | 'seen' | 'full' {
    if (this.#expiry.size >= this.#max || nowSec - this.#sweptAt >= 10) this.#sweep(nowSec);
    const until = this.#expiry.get(key);
    if (until !== undefined && until >= nowSec) return 'seen';
    if (this.#expiry.size >= this.#max) return 'full';
    this.#expiry.set(key, expiresAtSec);
    return 'new';
  }

  #sweep(nowSec: number): void {
    this.#sweptAt = nowSec;
    for (const [key, until] of this.#expiry) if (until < nowSec) this.#expiry.delete(key);
  }
}
