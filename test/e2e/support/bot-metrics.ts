import type { Stack } from './stack.js';

// The bot serves /metrics on its metrics listener, bound to 127.0.0.1 inside its container: not
// published, not reachable from the Docker network. The tests read it as an operator does, from
// inside the container (a published port could not reach a loopback listener, and would take a host
// port that another checkout's stack may hold).
const SCRIPT =
  "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||9464)+'/metrics').then(async(r)=>{process.stdout.write(await r.text());process.exitCode=r.ok?0:1},(e)=>{process.stderr.write(String(e));process.exitCode=1})";

/** The bot's GET /metrics text, fetched inside the bot container; throws unless it answered 200. */
export async function botMetricsText(stack: Pick<Stack, 'compose'>): Promise<string> {
  const r = await stack.compose('exec', '-T', 'bot', 'node', '-e', SCRIPT);
  if (r.code !== 0) throw new Error(`GET /metrics inside the bot container failed (${r.code}): ${r.stderr}${r.stdout.slice(0, 200)}`);
  return r.stdout;
}
