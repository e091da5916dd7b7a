import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AccessLineReader } from '../../../src/watcher/access-line-reader.js';
import { MAX_LINE_BYTES, isMalformed, parseAccessLine, type AccessEvent } from '../../../src/watcher/parse-access-line.js';
import { fixtureLines } from './fixtures.js';

function event(line: string | Buffer): AccessEvent {
  const r = parseAccessLine(line);
  if (isMalformed(r)) assert.fail(`malformed (${r}): ${String(line)}`);
  return r;
}

describe('parseAccessLine', () => {
  it('reads every field of a healthy line', () => {
    const [line] = fixtureLines('healthy-blue');
    assert.deepEqual(event(line!), {
      time: Date.parse('2026-11-22T20:53:01Z'),
      remoteAddr: '172.18.0.1',
      requestId: '6f1c2a0b9e8d4c3b2a1f0e9d8c7b6a59',
      method: 'GET',
      uri: '/',
      status: 200,
      bodyBytesSent: 61,
      requestTime: 0.002,
      upstreamAddr: ['172.18.0.3:3000'],
      upstreamStatus: [200],
      upstreamResponseTime: [0.002],
      pool: 'blue',
      release: 'blue-2026.11.22-1',
    });
  });

  it('unescapes JSON escapes (a quote in the URI) and treats "-" as absent', () => {
    const lines = fixtureLines('healthy-blue');
    assert.equal(event(lines[2]!).uri, '/orders?id=42&note="quoted"');
    const refused = event(lines[3]!);
    assert.equal(refused.status, 403);
    assert.deepEqual([refused.upstreamAddr, refused.upstreamStatus, refused.upstreamResponseTime], [[], [], []]);
    assert.equal(refused.pool, undefined);
    assert.equal(refused.release, undefined);
  });

  it('splits a retried request into its attempts', () => {
    const retried = event(fixtureLines('retried')[0]!);
    assert.deepEqual(retried.upstreamAddr, ['172.18.0.3:3000', '172.18.0.4:3000']);
    assert.deepEqual(retried.upstreamStatus, [500, 200]);
    assert.deepEqual(retried.upstreamResponseTime, [0.002, 0.003]);
    assert.equal(retried.pool, 'green');
  });

  it('reads timeouts: 504 then 200, and a 504 with no pool header', () => {
    const [retried, lone, both] = fixtureLines('timeout').map(event);
    assert.deepEqual(retried!.upstreamStatus, [504, 200]);
    assert.equal(retried!.requestTime, 2.004);
    assert.equal(lone!.pool, undefined);
    assert.deepEqual(both!.upstreamStatus, [504, 504]);
  });

  it('reads "no live upstreams": group names, "-" statuses and " : " between groups', () => {
    const [, group, groupDash, names, twoGroups] = fixtureLines('no-live-upstreams').map(event);
    assert.deepEqual(group!.upstreamAddr, ['blue_primary']);
    assert.deepEqual(groupDash!.upstreamStatus, []);
    assert.deepEqual(names!.upstreamAddr, ['app_blue:3000', 'app_green:3000']);
    assert.deepEqual(twoGroups!.upstreamAddr, ['172.18.0.3:3000', 'blue_primary']);
    assert.deepEqual(twoGroups!.upstreamStatus, [502, 502]);
    assert.deepEqual(twoGroups!.upstreamResponseTime, [0.001, 0]);
  });

  it('names what is wrong with a bad line instead of throwing', () => {
    assert.deepEqual(fixtureLines('malformed').map(parseAccessLine), ['truncated', 'not_json', 'missing_field', 'bad_field', 'not_json', 'empty']);
    assert.equal(parseAccessLine('x'.repeat(MAX_LINE_BYTES + 1)), 'huge');
    assert.equal(parseAccessLine('{"time":"yesterday"}'), 'missing_field');
  });

  it('takes a Buffer, and decodes a line with a non-UTF-8 byte lossily, flagging it', () => {
    const line = fixtureLines('healthy-blue')[0]!.replace('"uri":"/"', '"uri":"/\u00ff"');
    const bytes = Buffer.from(line, 'latin1'); // 0xff alone is not UTF-8
    const ev = event(bytes);
    assert.equal(ev.nonUtf8, true);
    assert.equal(ev.uri, '/\ufffd');
    assert.equal(event(Buffer.from(fixtureLines('healthy-blue')[0]!)).nonUtf8, undefined);
  });
});

describe('AccessLineReader (hot path)', () => {
  const all = ['healthy-blue', 'retried', 'timeout', 'no-live-upstreams'].flatMap(fixtureLines);

  it('agrees with parseAccessLine on every fixture line', () => {
    const r = new AccessLineReader();
    for (const line of all) {
      const text = `junk before\n${line}\njunk after`;
      const start = text.indexOf('\n') + 1;
      assert.equal(r.read(text, start, start + line.length), undefined, line);
      const ev = event(line);
      const failures = ev.upstreamStatus.filter((s) => s === undefined || s >= 500).length;
      assert.deepEqual(
        [r.time, r.status, r.requestTime, r.pool, r.release, r.attempts, r.attemptFailures, r.text()],
        [ev.time, ev.status, ev.requestTime, ev.pool, ev.release, ev.upstreamStatus.length, failures, line],
      );
      assert.deepEqual(r.toEvent(), ev);
    }
  });

  it('blames the pool that failed and spots group names', () => {
    const r = new AccessLineReader();
    const load = (l: string) => assert.equal(r.read(l, 0, l.length), undefined);
    load(fixtureLines('retried')[0]!); // "500, 200" ending on green: blue (primary) failed
    assert.deepEqual([r.failedPool, r.noLiveUpstream], ['blue', false]);
    load(fixtureLines('retried')[2]!); // POST 500 on blue, not retried
    assert.deepEqual([r.failedPool, r.attempts, r.attemptFailures], ['blue', 1, 1]);
    load(fixtureLines('no-live-upstreams')[2]!); // blue_primary, "-"
    assert.deepEqual([r.noLiveUpstream, r.attempts], [true, 0]);
    load(fixtureLines('no-live-upstreams')[4]!); // "172.18.0.3:3000 : blue_primary"
    assert.deepEqual([r.noLiveUpstream, r.attempts, r.attemptFailures], [true, 2, 2]);
  });

  it('reports malformed lines with the same reasons', () => {
    const r = new AccessLineReader();
    for (const line of fixtureLines('malformed')) assert.equal(r.read(line, 0, line.length), parseAccessLine(line));
  });
});
