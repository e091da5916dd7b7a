import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RespondProgress } from '../../../src/bot/respond-progress.js';

describe('RespondProgress', () => {
  it('uses at most five posts of a response_url however many steps, the last one the result', async () => {
    const posts: { text: string; replace_original?: boolean; response_type?: string }[] = [];
    const p = new RespondProgress(async (m) => void posts.push(m), 'switch green', 'U1', { minIntervalMs: 5 });
    await p.start();
    for (let i = 0; i < 40; i += 1) {
      p.step(`step ${i}`);
      await new Promise((r) => setTimeout(r, 3));
    }
    await p.finish({ status: 'ok', message: 'switched to green' }, 1200);
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(posts.length <= 5 && posts.length >= 3, `${posts.length} posts`);
    assert.equal(posts[0]?.response_type, 'in_channel');
    assert.ok(posts.slice(1).every((m) => m.replace_original === true));
    assert.match(String(posts.at(-1)?.text), /switch green: ok in 1s — switched to green/);
  });

  it('keeps posting after one post fails', async () => {
    let n = 0;
    const seen: string[] = [];
    const p = new RespondProgress(
      async (m) => {
        n += 1;
        if (n === 1) throw new Error('expired_url');
        seen.push(m.text);
      },
      'rollback',
      'U1',
    );
    await assert.rejects(p.start(), /expired_url/);
    await p.finish({ status: 'failed', message: 'nginx -t failed', cause: 'unknown directive' }, 10);
    assert.match(String(seen.at(-1)), /rollback: failed .* nginx -t failed \(unknown directive\)/);
  });
});
