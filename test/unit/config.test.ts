import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, describeConfig, loadConfig, parseDuration, slackMode } from '../../src/config.js';

describe('loadConfig', () => {
  it('applies the defaults of shared/SPEC.md to an empty environment', () => {
    const cfg = loadConfig({});
    assert.equal(cfg.ACTIVE_POOL, 'blue');
    assert.equal(cfg.ERROR_RATE_THRESHOLD, 2);
    assert.equal(cfg.WINDOW_SIZE, 200);
    assert.equal(cfg.ALERT_COOLDOWN_SEC, 300);
    assert.equal(cfg.MAINTENANCE_MODE, false);
    assert.equal(cfg.SLACK_API_URL, 'https://slack.com/api/');
    assert.equal(cfg.LOG_LEVEL, 'info');
    assert.equal(cfg.BOT_PORT, 3000);
    assert.deepEqual(cfg.SLACK_ADMIN_USERS, []);
    assert.equal(cfg.MAINTENANCE_DEFAULT, 3_600_000);
    assert.ok(Object.isFrozen(cfg));
  });

  it('coerces numbers, booleans, lists and treats empty strings as unset', () => {
    const cfg = loadConfig({
      ACTIVE_POOL: 'green',
      ERROR_RATE_THRESHOLD: '5.5',
      MAINTENANCE_MODE: 'on',
      AUTO_FAILOVER: 'false',
      SLACK_ADMIN_USERS: 'U1, U2 ,,U3',
      WINDOW_SIZE: '',
    });
    assert.equal(cfg.ACTIVE_POOL, 'green');
    assert.equal(cfg.ERROR_RATE_THRESHOLD, 5.5);
    assert.equal(cfg.MAINTENANCE_MODE, true);
    assert.equal(cfg.AUTO_FAILOVER, false);
    assert.deepEqual(cfg.SLACK_ADMIN_USERS, ['U1', 'U2', 'U3']);
    assert.equal(cfg.WINDOW_SIZE, 200);
  });

  it('lists every bad variable in one error, with what it got and what it wants', () => {
    assert.throws(
      () => loadConfig({ ACTIVE_POOL: 'purple', WINDOW_SIZE: 'lots', MAINTENANCE_MODE: 'maybe', SLACK_API_URL: 'not a url' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.problems.length, 4);
        assert.match(err.message, /ACTIVE_POOL: got "purple", wants blue or green/);
        assert.match(err.message, /WINDOW_SIZE: got "lots", wants a number/);
        assert.match(err.message, /MAINTENANCE_MODE: got "maybe", wants a boolean/);
        assert.match(err.message, /SLACK_API_URL: got "not a url", wants a URL/);
        return true;
      },
    );
  });

  it('never echoes a secret in a config error', () => {
    assert.throws(
      () => loadConfig({ SLACK_WEBHOOK_URL: 'xoxb-secret-but-not-a-url' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.doesNotMatch(err.message, /xoxb-secret/);
        assert.match(err.message, /SLACK_WEBHOOK_URL: got \[redacted\]/);
        return true;
      },
    );
  });

  it('checks variables that only make sense together', () => {
    assert.throws(() => loadConfig({ ERROR_RATE_THRESHOLD: '2', ERROR_RATE_CLEAR_THRESHOLD: '3' }), /ERROR_RATE_CLEAR_THRESHOLD/);
    assert.throws(() => loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1' }), /SLACK_SIGNING_SECRET/);
    assert.throws(() => loadConfig({ SLACK_APP_TOKEN: 'xapp-1' }), /SLACK_BOT_TOKEN/);
  });

  it('picks the Slack mode from what is set', () => {
    assert.equal(slackMode(loadConfig({})), 'none');
    assert.equal(slackMode(loadConfig({ SLACK_WEBHOOK_URL: 'http://127.0.0.1:9/hook' })), 'webhook');
    assert.equal(slackMode(loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' })), 'http');
    assert.equal(slackMode(loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' })), 'socket');
  });
});

describe('parseDuration', () => {
  it('reads the forms operators type', () => {
    assert.equal(parseDuration('30m'), 1_800_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('90'), 90_000);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('soon'), undefined);
    assert.equal(parseDuration('5x'), undefined);
    assert.equal(parseDuration(''), undefined);
  });
});

describe('describeConfig', () => {
  it('describes every variable with a meaning', () => {
    const rows = describeConfig();
    assert.ok(rows.length > 20);
    for (const row of rows) assert.ok(row.description.length > 5, `${row.name} has no description`);
    assert.equal(rows.find((r) => r.name === 'WINDOW_SIZE')?.default, '200');
    assert.equal(rows.find((r) => r.name === 'MAINTENANCE_MODE')?.default, 'false');
    assert.equal(rows.find((r) => r.name === 'SLACK_BOT_TOKEN')?.default, undefined);
  });
});
