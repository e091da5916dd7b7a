import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './docker.js';

/**
 * "any-app" (test/e2e/support/any-app/README.md): a busybox httpd app that knows nothing about
 * bluegreen. It listens on its own port, answers its own health path, and sends no bluegreen headers.
 */
export const ANY_APP_PORT = 8000;
export const ANY_APP_HEALTH_PATH = '/health';
/** 200 normally; 500 for about FAIL_PCT% once FAIL_AFTER requests were served; sleeps SLOW_MS first. */
export const ANY_APP_WORK_PATH = '/cgi-bin/work';

const BUILD_SH = join(dirname(fileURLToPath(import.meta.url)), 'any-app', 'build.sh');

/**
 * Builds any-app offline under `ref` (idempotent: same inputs, no rebuild). `version` is its
 * SITE_VERSION; `env` is baked into the image's own ENV, e.g. { FAIL_PCT: '30', FAIL_AFTER: '20' }
 * or { SLOW_MS: '1500' }. Throws with build.sh's stderr when the build fails.
 */
export async function buildAnyApp(ref: string, version: string, env: Record<string, string> = {}): Promise<void> {
  const args = [BUILD_SH, ref, version];
  for (const [key, value] of Object.entries(env)) args.push('--env', `${key}=${value}`);
  const res = await run('bash', args, { timeoutMs: 120_000 });
  if (res.code !== 0) {
    throw new Error(`any-app build of ${ref} (${version}) failed (exit ${res.code}): ${res.stderr.trim() || res.stdout.trim()}`);
  }
}
