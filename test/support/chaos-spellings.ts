// Spellings of the chaos endpoints that nginx and the app's WHATWG parser may read differently
// (issue #10). The public-port e2e test sends them through nginx; the demo app's unit test sends
// them straight to its public listener.

/**
 * Request targets (before `?mode=error`) that nginx and the app's WHATWG URL parser (`new URL()`)
 * may read differently. Each comment says what the app would make of it.
 */
export const CHAOS_SPELLINGS: readonly string[] = [
  '/chaos\\start', // `\` is `/` to WHATWG; nginx's location did not match it
  '/chaos%5Cstart', // decoded to `\` in nginx's $uri
  '/chaos%5cstart',
  '/chaos%2Fstart', // encoded slash
  '/chaos%2fstart',
  '//chaos/start', // merge_slashes in nginx; WHATWG reads a host `chaos`
  '///chaos/start',
  '//x/chaos/start', // WHATWG: host `x`, path /chaos/start; nginx: $uri /x/chaos/start
  '/\\x/chaos/start', // WHATWG: `/\` is `//`, same as above
  '\\\\x\\chaos\\start',
  '/./chaos/start',
  '/x/../chaos/start',
  '/x/..\\chaos\\start', // WHATWG resolves the `..` once `\` is `/`; nginx sees one segment
  '/x/..%5Cchaos/start',
  '/x/..%2Fchaos/start',
  '/%2e/chaos/start', // WHATWG treats %2e as a dot segment
  '/x/%2e%2e/chaos/start',
  '/x/%2E%2E/chaos/start',
  '/x/.%2e/chaos/start',
  '/x/%2e%2e%5Cchaos%5Cstart',
  '/%63haos/start', // encoded letters
  '/ch%61os/start',
  '/CHAOS/start', // case
  '/Chaos/start',
  '/cHaOs/StArT',
  '/chaos;x/start', // path parameters
  '/chaos/start;a=b',
  '/chaos%00/start', // NUL
  '/chaos%20/start',
  '/chaos/start%20',
  '/cha\tos/start', // WHATWG deletes tabs
  '/chaos\t/start',
  '/chaos/\tstart',
  '/chaos/start/',
  '/chaos//start',
  '/chaos/./start',
  '/chaos\\', // GET /chaos reads the state
  '/chaos%5C',
  'http://127.0.0.1/chaos/start', // absolute-form request targets
  'http://127.0.0.1/chaos\\start',
  'http://127.0.0.1//x/chaos/start',
  'HTTP://127.0.0.1/CHAOS/start',
];

/** Answers that count as refused: 0 = connection closed without a status line. Never a 2xx. */
export const REFUSED: ReadonlySet<number> = new Set([0, 400, 403, 404]);

/** The target as sent: POSTs carry `?mode=error` unless the spelling ends inside an escape. */
export function targetFor(method: string, spelling: string): string {
  return method === 'POST' && !spelling.endsWith('\\') && !/%5c$/i.test(spelling) ? `${spelling}?mode=error` : spelling;
}
