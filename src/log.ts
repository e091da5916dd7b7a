import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

// Paths pino blanks wherever they appear in a logged object. Config objects, Slack clients and
// request bodies all carry these names.
export const REDACT_PATHS = [
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'SLACK_APP_TOKEN',
  'SLACK_WEBHOOK_URL',
  'ADMIN_TOKEN',
  '*.SLACK_BOT_TOKEN',
  '*.SLACK_SIGNING_SECRET',
  '*.SLACK_APP_TOKEN',
  '*.SLACK_WEBHOOK_URL',
  '*.ADMIN_TOKEN',
  'token',
  '*.token',
  'signingSecret',
  '*.signingSecret',
  'appToken',
  '*.appToken',
  'webhookUrl',
  '*.webhookUrl',
  'adminToken',
  '*.adminToken',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'req.headers.authorization',
  'req.headers["x-slack-signature"]',
  'headers["x-bluegreen-admin-token"]',
  '*.headers["x-bluegreen-admin-token"]',
];

export interface LoggerOptions {
  level?: string;
  /** Where lines go; tests pass a stream to capture and assert on them. */
  destination?: DestinationStream;
  /** Pretty only for people at a terminal; JSON everywhere else. */
  pretty?: boolean;
  /** Extra secret values to scrub from any string that reaches the log. */
  secrets?: readonly string[];
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const secrets = (opts.secrets ?? []).filter((s) => s.length >= 6);
  const options: pino.LoggerOptions = {
    level: opts.level ?? 'info',
    base: { name: 'bluegreen' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  if (secrets.length > 0) {
    // Secrets can hide inside strings (an error message quoting a URL); scrub the serialized line.
    options.hooks = {
      streamWrite: (line) => secrets.reduce((acc, s) => acc.split(s).join('[redacted]'), line),
    };
  }
  if (opts.destination) return pino(options, opts.destination);
  if (opts.pretty) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  return pino(options);
}
