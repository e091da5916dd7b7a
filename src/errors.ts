/**
 * One error class for operational failures: a code other code can branch on, a hint a person can act
 * on, and the original cause chained. Programmer errors stay plain Errors and crash.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'DOCKER_UNAVAILABLE'
  | 'DOCKER_FORBIDDEN'
  | 'DOCKER_TIMEOUT'
  | 'CONTAINER_NOT_FOUND'
  | 'NGINX_DOWN'
  | 'NGINX_CONFIG_INVALID'
  | 'POOL_UNHEALTHY'
  | 'CHAOS_UNAVAILABLE'
  | 'LOCKED'
  | 'BAD_COMMAND'
  | 'FORBIDDEN'
  | 'SLACK_API'
  | 'STATE_IO'
  | 'INTERNAL';

export class BluegreenError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'BluegreenError';
    this.code = code;
    this.hint = options.hint;
  }
}

export function isBluegreenError(err: unknown): err is BluegreenError {
  return err instanceof BluegreenError;
}

/** A one-line description of any thrown value, for messages shown to people. */
export function describeError(err: unknown): string {
  if (err instanceof BluegreenError) return err.hint ? `${err.message} (${err.hint})` : err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
