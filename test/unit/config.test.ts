import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, describeConfig, loadConfig, metricsUrl, parseDuration, parseStatusSet, slackMode } from '../../src/config.js';

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

  it('puts /metrics and /pool-stats on a listener of their own, on loopback unless told, never on BOT_PORT', () => {
    const cfg = loadConfig({});
    assert.deepEqual([cfg.METRICS_HOST, cfg.METRICS_PORT], ['127.0.0.1', 9464]);
    assert.equal(metricsUrl(cfg, '/pool-stats'), 'http://127.0.0.1:9464/pool-stats');
    // Bound to every address, it is still reached over loopback from beside the bot.
    assert.equal(metricsUrl(loadConfig({ METRICS_HOST: '0.0.0.0', METRICS_PORT: '9100' }), '/metrics'), 'http://127.0.0.1:9100/metrics');
    assert.equal(metricsUrl(loadConfig({ METRICS_HOST: '::1' }), '/metrics'), 'http://[::1]:9464/metrics');
    assert.throws(() => loadConfig({ BOT_PORT: '9464' }), /METRICS_PORT: got 9464, wants a port other than BOT_PORT \(9464\)/);
    assert.equal(loadConfig({ BOT_PORT: '0', METRICS_PORT: '0' }).METRICS_PORT, 0);
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

  it('ADMIN_TOKEN: trimmed, unset when empty, and a value that cannot go in a header is refused without echoing it', () => {
    assert.equal(loadConfig({ ADMIN_TOKEN: ' 3f9c0a7e5b1d ' }).ADMIN_TOKEN, '3f9c0a7e5b1d');
    assert.equal(loadConfig({ ADMIN_TOKEN: '' }).ADMIN_TOKEN, undefined);
    assert.throws(
      () => loadConfig({ ADMIN_TOKEN: 'two secret-words' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.doesNotMatch(err.message, /secret-words/);
        assert.match(err.message, /ADMIN_TOKEN: got \[redacted\], wants printable ASCII with no spaces/);
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

describe("your app's health check settings", () => {
  it('reads the status sets operators write, and refuses anything else', () => {
    const ok = (spec: string, statuses: number[]) => statuses.filter(parseStatusSet(spec)!);
    assert.deepEqual(ok('2xx', [199, 200, 204, 299, 300]), [200, 204, 299]);
    assert.deepEqual(ok('200, 301-302', [200, 201, 301, 302, 303]), [200, 301, 302]);
    assert.deepEqual(ok('2XX,404', [200, 404, 500]), [200, 404]);
    for (const bad of ['', 'ok', '2x', '600', '302-301', '200;204', '2xx,']) assert.equal(parseStatusSet(bad), undefined, bad);
  });

  it('defaults to GET /healthz, any 2xx, no Host of its own; a bad path, status set or host is named', () => {
    const c = loadConfig({});
    assert.deepEqual([c.APP_HEALTH_PATH, c.APP_HEALTH_STATUS, c.APP_HEALTH_HOST], ['/healthz', '2xx', undefined]);
    const own = loadConfig({ APP_HEALTH_PATH: '/status/ready?full=1', APP_HEALTH_STATUS: '200-399', APP_HEALTH_HOST: 'shop.example:8000' });
    assert.deepEqual([own.APP_HEALTH_PATH, own.APP_HEALTH_STATUS, own.APP_HEALTH_HOST], ['/status/ready?full=1', '200-399', 'shop.example:8000']);
    assert.throws(
      () => loadConfig({ APP_HEALTH_PATH: 'healthz', APP_HEALTH_STATUS: 'ok', APP_HEALTH_HOST: 'evil.example\nX-Injected: 1' }),
      (err: ConfigError) =>
        err.problems.some((p) => p.startsWith('APP_HEALTH_PATH: got "healthz", wants a path starting with /')) &&
        err.problems.some((p) => p.startsWith('APP_HEALTH_STATUS: got "ok", wants statuses such as 2xx')) &&
        err.problems.some((p) => p.startsWith('APP_HEALTH_HOST:')),
    );
    assert.throws(() => loadConfig({ APP_HEALTH_PATH: '/a b' }), /APP_HEALTH_PATH/);
  });
});
