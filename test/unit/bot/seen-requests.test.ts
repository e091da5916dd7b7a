import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeenRequests } from '../../../src/bot/seen-requests.js';

describe('SeenRequests: the replay memory', () => {
  it('knows a request until its expiry, then forgets it', () => {
    const seen = new SeenRequests(100);
    assert.equal(seen.remember('a', 1_000, 700), 'new');
    assert.equal(seen.remember('a', 1_000, 999), 'seen');
    assert.equal(seen.remember('a', 1_000, 1_000), 'seen');
    assert.equal(seen.remember('b', 2_000, 1_011), 'new');
    assert.equal(seen.size, 1, 'a was swept once expired');
  });

  it('stays bounded: when full of live requests it refuses new ones instead of forgetting old ones', () => {
    const seen = new SeenRequests(3);
    for (const k of ['a', 'b', 'c']) assert.equal(seen.remember(k, 1_000, 500), 'new');
    assert.equal(seen.remember('d', 1_000, 500), 'full');
    assert.equal(seen.remember('a', 1_000, 500), 'seen', 'a full memory still knows its requests');
    assert.equal(seen.size, 3);
    // Once they expire there is room again.
    assert.equal(seen.remember('d', 2_000, 1_001), 'new');
    assert.equal(seen.size, 1);
  });

  it('holds at most `max` entries under a flood of distinct requests', () => {
    const seen = new SeenRequests(1_000);
    let now = 0;
    for (let i = 0; i < 20_000; i += 1) {
      if (i % 100 === 0) now += 1;
      seen.remember(`k${i}`, now + 601, now);
      assert.ok(seen.size <= 1_000);
    }
  });
});
