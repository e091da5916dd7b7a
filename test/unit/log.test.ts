import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return { lines, destination };
}

describe('createLogger', () => {
  it('writes JSON lines with an ISO time and a level name', () => {
    const { lines, destination } = capture();
    const log = createLogger({ destination });
    log.child({ component: 'test' }).info({ pool: 'blue' }, 'hello');
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(entry.msg, 'hello');
    assert.equal(entry.level, 'info');
    assert.equal(entry.component, 'test');
    assert.ok(!Number.isNaN(Date.parse(String(entry.time))));
  });

  it('redacts tokens, secrets and webhook URLs wherever they are logged', () => {
    const { lines, destination } = capture();
    const secrets = ['xoxb-123-456-abcdef', 'shhh-signing-secret', 'https://hooks.slack.com/services/T/B/XYZ'];
    const log = createLogger({ destination, secrets });
    log.info({ config: { SLACK_BOT_TOKEN: secrets[0], SLACK_SIGNING_SECRET: secrets[1] } }, 'config');
    log.info({ token: secrets[0], webhookUrl: secrets[2] }, 'client');
    log.error({ err: new Error(`POST ${secrets[2]} failed`) }, `could not reach ${secrets[2]}`);
    const all = lines.join('\n');
    for (const s of secrets) assert.ok(!all.includes(s), `secret ${s} leaked: ${all}`);
    assert.match(all, /\[redacted\]/);
    assert.equal(lines.length, 3);
  });

  it("redacts the pools' ADMIN_TOKEN in config, options and request headers", () => {
    const { lines, destination } = capture();
    const secret = 'admin-token-9d1e7f';
    const log = createLogger({ destination });
    log.info({ config: { ADMIN_TOKEN: secret }, ADMIN_TOKEN: secret }, 'config');
    log.info({ pools: { adminToken: secret }, req: { headers: { 'x-bluegreen-admin-token': secret } } }, 'chaos call');
    log.info({ headers: { 'x-bluegreen-admin-token': secret } }, 'chaos call');
    const all = lines.join('\n');
    assert.ok(!all.includes(secret), `ADMIN_TOKEN leaked: ${all}`);
    assert.equal(lines.length, 3);
  });
});
