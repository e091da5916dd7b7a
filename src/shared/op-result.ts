// Every operation returns one of these; Slack and the CLI render them. Nothing throws past an
// operation for an operational failure.

export type OpResult<T = undefined> =
  | { status: 'ok'; message: string; data?: T }
  | { status: 'refused'; reason: string }
  | { status: 'failed'; message: string; cause?: string };

export const ok = <T>(message: string, data?: T): OpResult<T> =>
  data === undefined ? { status: 'ok', message } : { status: 'ok', message, data };
export const refused = (reason: string): OpResult<never> => ({ status: 'refused', reason });
export const failed = (message: string, cause?: unknown): OpResult<never> =>
  cause === undefined
    ? { status: 'failed', message }
    : { status: 'failed', message, cause: cause instanceof Error ? cause.message : String(cause) };
