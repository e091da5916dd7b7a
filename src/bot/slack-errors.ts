// How the bot judges a failed Slack Web API call: try again (and when), or give up.
// @slack/web-api 8 throws errors with a `code`:
//   slack_webapi_rate_limited_error  { retryAfter: seconds }        (429 with rejectRateLimitedCalls)
//   slack_webapi_http_error          { statusCode: 503, ... }      (any non-200, non-429)
//   slack_webapi_request_error       { original: Error }           (connection refused, reset, timeout)
//   slack_webapi_platform_error      { data: { ok: false, error: 'channel_not_found' } }

export type Verdict = { retry: true; afterMs: number | undefined; why: string } | { retry: false; why: string };

// Platform errors Slack documents as transient; everything else (invalid_blocks, channel_not_found,
// not_authed, …) fails the same way every time.
const TRANSIENT_PLATFORM_ERRORS = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'ratelimited']);

export function judgeSlackError(err: unknown): Verdict {
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    code?: unknown;
    retryAfter?: unknown;
    statusCode?: unknown;
    data?: { error?: unknown };
    message?: unknown;
  };
  switch (e.code) {
    case 'slack_webapi_rate_limited_error': {
      const sec = typeof e.retryAfter === 'number' ? e.retryAfter : undefined;
      return { retry: true, afterMs: sec === undefined ? undefined : sec * 1000, why: `rate limited (Retry-After ${sec ?? '?'} s)` };
    }
    case 'slack_webapi_http_error':
      return { retry: true, afterMs: undefined, why: `HTTP ${String(e.statusCode)}` };
    case 'slack_webapi_request_error':
      return { retry: true, afterMs: undefined, why: `request failed: ${String(e.message)}` };
    case 'slack_webapi_platform_error': {
      const code = String(e.data?.error ?? 'unknown');
      return TRANSIENT_PLATFORM_ERRORS.has(code) ? { retry: true, afterMs: undefined, why: code } : { retry: false, why: code };
    }
    default:
      // Unknown failures (a bug in a builder, a thrown TypeError) must not spin forever.
      return { retry: false, why: e.message === undefined ? String(err) : String(e.message) };
  }
}

/** Slack refused the blocks themselves; the text alone may still go through. */
export function isBlocksRejected(why: string): boolean {
  return why === 'invalid_blocks' || why === 'msg_blocks_too_long' || why === 'invalid_blocks_format';
}
