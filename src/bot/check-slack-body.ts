import { parse as parseQuery } from 'node:querystring';

// What Bolt 5's HTTPReceiver does with a verified body (HTTPModuleFunctions.parseHTTPRequestBody):
// an exact `application/x-www-form-urlencoded` body is parsed with querystring and, when it has a
// string `payload` field, replaced by JSON.parse(payload); any other content type is JSON.parse'd
// whole. Bolt then reads `body.ssl_check` outside its try/catch, so `payload=null` (or a JSON body
// `null`) throws an unhandled rejection and ends the process. This check runs first, on the same
// parse, and lets through only shapes Bolt handles.

const FORM = 'application/x-www-form-urlencoded';
/** Slash-command fields the listener reads; each must be a string when present. */
const COMMAND_FIELDS = ['command', 'text', 'user_id', 'user_name', 'channel_id', 'channel_name', 'team_id', 'response_url', 'trigger_id'];
const REQUIRED_COMMAND_FIELDS = ['command', 'user_id', 'channel_id'];

/** undefined when Bolt may have the body; otherwise why not (for the log). */
export function checkSlackBody(contentType: string | undefined, raw: Buffer): string | undefined {
  const text = raw.toString('utf8');
  if (contentType === FORM) {
    const fields = parseQuery(text);
    for (const [name, value] of Object.entries(fields)) {
      if (typeof value !== 'string') return `form field ${name} given more than once`;
    }
    if (fields.payload !== undefined) return checkObject(parseJson(String(fields.payload)), 'payload');
    // No payload: a slash command, or Slack's ssl_check.
    return fields.command === undefined ? undefined : checkCommand(fields);
  }
  return checkObject(parseJson(text), 'JSON body');
}

const INVALID = Symbol('invalid JSON');

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return INVALID;
  }
}

function checkObject(v: unknown, what: string): string | undefined {
  if (v === INVALID) return `${what} is not valid JSON`;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${what} is ${v === null ? 'null' : Array.isArray(v) ? 'an array' : `a ${typeof v}`}, not an object`;
  const o = v as Record<string, unknown>;
  if (o.command !== undefined) return checkCommand(o);
  if (typeof o.type !== 'string') return `${what} has no string "type"`;
  return undefined;
}

function checkCommand(o: Record<string, unknown>): string | undefined {
  for (const name of REQUIRED_COMMAND_FIELDS) if (o[name] === undefined) return `slash command without ${name}`;
  for (const name of COMMAND_FIELDS) {
    if (o[name] !== undefined && typeof o[name] !== 'string') return `slash command field ${name} is not a string`;
  }
  return undefined;
}
