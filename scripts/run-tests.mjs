#!/usr/bin/env node
// npm test: every suite. Unit tests run in parallel; end-to-end suites run one at a time against a
// real Docker engine (they share two cores). With CI=true a missing engine fails the run.
//   node scripts/run-tests.mjs [all|unit|e2e] [file filter]
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const mode = process.argv[2] ?? 'all';
const filter = process.argv[3];

function testFiles(dir) {
  const out = [];
  let entries = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    const full = join(dir, name);
    if (name === 'support' || name === 'fixtures') continue;
    if (statSync(full).isDirectory()) out.push(...testFiles(full));
    else if (name.endsWith('.test.ts')) out.push(relative(root, full));
  }
  return filter ? out.filter((f) => f.includes(filter)) : out;
}

function runNodeTests(files, concurrency, extraEnv = {}) {
  return new Promise((resolve) => {
    if (files.length === 0) return resolve({ pass: 0, fail: 0, skipped: 0, code: 0 });
    const args = ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files];
    const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'inherit'] });
    // The whole output is kept: the spec reporter lists failures after its summary, at any length.
    let output = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      output += chunk.toString();
    });
    child.on('close', (code) => {
      const num = (label) => Number([...output.matchAll(new RegExp(`^ℹ ${label} (\\d+)$`, 'gm'))].at(-1)?.[1] ?? 0);
      resolve({ pass: num('pass'), fail: num('fail') + (code !== 0 && num('fail') === 0 ? 1 : 0), skipped: num('skipped'), code: code ?? 1 });
    });
  });
}

function dockerAnswers() {
  return spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 30_000 }).status === 0;
}

const succeeds = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore', timeout: 30_000 }).status === 0;

/**
 * The safety net behind every suite's own tear-down: a suite that node:test cancelled, or that died,
 * may not have run its after() hooks. Removes the containers of test projects (bge2e-*) that this
 * checkout started (Compose labels each with its working dir, so another checkout's suites running
 * at the same time are left alone), then those projects' networks and volumes, and names them.
 */
function removeLeftovers() {
  const lines = (args) => spawnSync('docker', args, { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.trim() !== '');
  const containers = lines(['container', 'ls', '-a', '--filter', `label=com.docker.compose.project.working_dir=${root.replace(/\/$/, '')}`, '--format', '{{.ID}} {{.Label "com.docker.compose.project"}}'])
    .map((l) => l.split(' '))
    .filter(([, project]) => project?.startsWith('bge2e-'));
  if (containers.length === 0) return;
  const projects = [...new Set(containers.map(([, project]) => project))].sort();
  spawnSync('docker', ['rm', '-f', '-v', ...containers.map(([id]) => id)], { stdio: 'ignore' });
  for (const project of projects) {
    for (const kind of ['network', 'volume']) {
      const left = lines([kind, 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`]);
      if (left.length > 0) spawnSync('docker', [kind, 'rm', ...left], { stdio: 'ignore' });
    }
  }
  console.error(`# e2e: removed what suites left behind: ${projects.join(', ')}`);
}

const totals = { pass: 0, fail: 0, skipped: 0 };
function add(r) {
  totals.pass += r.pass;
  totals.fail += r.fail;
  totals.skipped += r.skipped;
}

if (mode === 'all' || mode === 'unit') {
  console.log('# unit tests');
  add(await runNodeTests(testFiles(join(root, 'test/unit')), 2));
}

if (mode === 'all' || mode === 'e2e') {
  const files = testFiles(join(root, 'test/e2e'));
  if (files.length > 0) {
    if (!dockerAnswers()) {
      if (process.env.CI === 'true') {
        console.error('# e2e: CI=true and no Docker engine answers (docker info failed): failing the run');
        totals.fail += 1;
      } else {
        console.log(`# e2e: no Docker engine answers; skipping ${files.length} end-to-end suites (start dockerd to run them)`);
        totals.skipped += files.length;
      }
    } else {
      console.log('# building images for the end-to-end suites');
      const build = spawnSync('bash', ['scripts/stack.sh', 'build'], { cwd: root, stdio: 'inherit' });
      if (build.status !== 0) {
        console.error('# e2e: image build failed');
        totals.fail += 1;
      } else {
        const v1 = succeeds('docker-compose', ['version']);
        const v2 = succeeds('docker', ['compose', 'version']);
        console.log(`# end-to-end tests (real Docker engine, real nginx, Compose ${v2 ? 'v2' : 'v1'})`);
        try {
          add(await runNodeTests(files, 1, { BLUEGREEN_IMAGES_READY: '1' }));
          // Most users have Compose v2; Debian ships 1.29. When both are here the stack suite runs
          // under 1.29 as well.
          const stackSuite = files.filter((f) => f.endsWith('stack.test.ts'));
          if (v1 && v2 && stackSuite.length > 0 && !process.env.BLUEGREEN_COMPOSE) {
            console.log('# the stack suite again under docker-compose 1.29');
            add(await runNodeTests(stackSuite, 1, { BLUEGREEN_IMAGES_READY: '1', BLUEGREEN_COMPOSE: 'v1' }));
          }
        } finally {
          removeLeftovers();
        }
      }
    }
  }
}

console.log(`\ntests: ${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped`);
process.exit(totals.fail > 0 ? 1 : 0);
