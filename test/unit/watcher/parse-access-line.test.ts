import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AccessLineReader } from '../../../src/watcher/access-line-reader.js';
import { MAX_LINE_BYTES, isMalformed, parseAccessLine, type AccessEvent, type ParsedLine } from '../../../src/watcher/parse-access-line.js';
import { capturedLines, fixtureLines } from './fixtures.js';

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

  it('refuses impossible values: a status outside 100-599 or not whole, a negative or non-finite time', () => {
    const [line] = fixtureLines('healthy-blue');
    const withStatus = (v: string) => line!.replace('"status":200', `"status":${v}`);
    for (const v of ['1e308', '1e3', '99', '0', '600', '1000', '-200', '200.5']) {
      assert.equal(parseAccessLine(withStatus(v)), 'bad_field', `status ${v}`);
    }
    for (const v of ['100', '599', '499']) assert.equal(event(withStatus(v)).status, Number(v), `status ${v}`);
    const withTime = (v: string) => line!.replace(/"request_time":[^,]+/, `"request_time":${v}`);
    for (const v of ['-0.002', '1e400', '-1e400']) assert.equal(parseAccessLine(withTime(v)), 'bad_field', `request_time ${v}`);
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

describe('parseAccessLine on the maintenance page (nginx 1.22, this template)', () => {
  const [normal, page, json, head, refused, post, del, after] = fixtureLines('maintenance-page').map(event);

  it('marks the 503s nginx answered with the page, and nothing else', () => {
    for (const p of [page, json, head, post, del]) {
      assert.deepEqual([p!.status, p!.page, p!.upstreamStatus, p!.pool, p!.release], [503, 'maintenance', [], undefined, undefined]);
    }
    for (const p of [normal, refused, after]) assert.equal(p!.page, undefined);
    assert.deepEqual([refused!.status, after!.status, after!.pool], [403, 200, 'blue']);
  });

  it('logs the method the client sent, though nginx serves the page as a GET', () => {
    assert.deepEqual([head!.method, post!.method, del!.method, after!.method], ['HEAD', 'POST', 'DELETE', 'POST']);
  });

  it('takes lines without the page field (written before it) and refuses a page that is not a string', () => {
    const old = fixtureLines('maintenance-page')[1]!.replace(',"page":"maintenance"', '');
    assert.equal(event(old).page, undefined);
    assert.equal(parseAccessLine(fixtureLines('maintenance-page')[1]!.replace('"page":"maintenance"', '"page":1')), 'bad_field');
  });
});

describe('parseAccessLine on lines captured from the stack', () => {
  const lines = capturedLines();
  const ev = (i: number) => event(lines[i]!);

  it('a normal request served by blue', () => {
    assert.deepEqual(ev(0), {
      time: Date.parse('2026-11-22T21:02:50Z'),
      remoteAddr: '172.23.0.1',
      requestId: 'bfdbfe4808f4b50fd5f5e966e30b36b4',
      method: 'GET',
      uri: '/',
      status: 200,
      bodyBytesSent: 91,
      requestTime: 0.001,
      upstreamAddr: ['172.23.0.2:3000'],
      upstreamStatus: [200],
      upstreamResponseTime: [0.001],
      pool: 'blue',
      release: 'blue-v1',
    });
  });

  it('a quoted query string, a POST and a 404', () => {
    const q = ev(2);
    assert.deepEqual([q.method, q.uri, q.status, q.upstreamStatus, q.requestTime], ['GET', '/search?q=%22quoted%22&x=1', 404, [404], 0]);
    const post = ev(3);
    assert.deepEqual([post.method, post.uri, post.status, post.bodyBytesSent, post.pool], ['POST', '/orders', 404, 72, 'blue']);
    assert.deepEqual([ev(4).uri, ev(4).status], ['/missing', 404]);
  });

  it('a 403 nginx answered itself: no upstream, every upstream field "-"', () => {
    const r = ev(5);
    assert.deepEqual(
      [r.method, r.uri, r.status, r.upstreamAddr, r.upstreamStatus, r.upstreamResponseTime, r.pool, r.release],
      ['POST', '/chaos/start', 403, [], [], [], undefined, undefined],
    );
  });

  it('"500, 200": blue failed, the retry on green answered', () => {
    const r = ev(6);
    assert.deepEqual(r.upstreamAddr, ['172.23.0.2:3000', '172.23.0.3:3000']);
    assert.deepEqual(r.upstreamStatus, [500, 200]);
    assert.deepEqual(r.upstreamResponseTime, [0, 0.002]);
    assert.deepEqual([r.status, r.pool, r.release], [200, 'green', 'green-v1']);
  });

  it('"500, 502": no live upstream left, the group name blue_primary as the address', () => {
    const r = ev(8);
    assert.deepEqual(r.upstreamAddr, ['172.23.0.3:3000', 'blue_primary']);
    assert.deepEqual(r.upstreamStatus, [500, 502]);
    assert.deepEqual(r.upstreamResponseTime, [0.001, 0]);
    assert.deepEqual([r.status, r.pool, r.bodyBytesSent], [502, 'green', 150]);
  });

  it('"504, 504": both pools timed out after 2 s each, no pool header', () => {
    const r = ev(12);
    assert.deepEqual(r.upstreamStatus, [504, 504]);
    assert.deepEqual(r.upstreamResponseTime, [2.003, 2.002]);
    assert.deepEqual([r.status, r.requestTime, r.pool, r.release], [504, 4.005, undefined, undefined]);
    assert.equal(r.time, Date.parse('2026-11-22T21:03:05Z'));
  });

  it('"504, 200": connect timeout on the stopped blue, green answered', () => {
    const r = ev(13);
    assert.deepEqual(r.upstreamStatus, [504, 200]);
    assert.deepEqual(r.upstreamResponseTime, [1.001, 0.001]);
    assert.deepEqual([r.status, r.requestTime, r.pool], [200, 1.002, 'green']);
  });

  it('"504, 502": blue timed out, then no live upstream', () => {
    const r = ev(15);
    assert.deepEqual(r.upstreamAddr, ['172.23.0.3:3000', 'blue_primary']);
    assert.deepEqual(r.upstreamStatus, [504, 502]);
    assert.deepEqual(r.upstreamResponseTime, [1.001, 0]);
    assert.deepEqual([r.status, r.requestTime, r.pool, r.release], [502, 1, undefined, undefined]);
  });
});

/** What the reader must hold after a line the parser read as `ev`. */
function readerView(ev: AccessEvent) {
  const n = ev.upstreamStatus.length;
  const failed = ev.upstreamStatus.map((s) => s === undefined || s >= 500);
  const lastFailed = n > 0 && failed[n - 1]!;
  const earlierFailed = failed.slice(0, -1).some(Boolean);
  const other = ev.pool === 'blue' ? 'green' : 'blue';
  return {
    time: ev.time,
    status: ev.status,
    requestTime: ev.requestTime,
    pool: ev.pool,
    release: ev.release,
    attempts: n,
    attemptFailures: failed.filter(Boolean).length,
    failedPool: ev.pool === undefined ? undefined : lastFailed ? ev.pool : earlierFailed ? other : undefined,
    noLiveUpstream: ev.upstreamAddr.some((a) => !a.includes(':')),
    nonUtf8: ev.nonUtf8 === true,
    maintenancePage: ev.page === 'maintenance',
  };
}

function fieldsOf(r: AccessLineReader) {
  const { time, status, requestTime, pool, release, attempts, attemptFailures, failedPool, noLiveUpstream, nonUtf8, maintenancePage } = r;
  return { time, status, requestTime, pool, release, attempts, attemptFailures, failedPool, noLiveUpstream, nonUtf8, maintenancePage };
}

/** The reader and the parser agree on this line: same reason, or the same fields. */
function assertAgree(r: AccessLineReader, line: Buffer): void {
  const ev: ParsedLine = parseAccessLine(line);
  const got = r.readLine(line);
  const what = line.toString('latin1');
  if (isMalformed(ev)) {
    assert.equal(got, ev, what);
    return;
  }
  assert.equal(got, undefined, what);
  assert.deepEqual(fieldsOf(r), readerView(ev), what);
}

describe('AccessLineReader (hot path)', () => {
  const all = [...['healthy-blue', 'retried', 'timeout', 'no-live-upstreams', 'maintenance-page'].flatMap((n) => fixtureLines(n)), ...capturedLines()];

  it('agrees with parseAccessLine on every fixture line, read in a block between other lines', () => {
    const r = new AccessLineReader();
    for (const line of all) {
      const block = Buffer.from(`junk before\n${line}\n${line}\njunk after`);
      const start = block.indexOf(10) + 1;
      r.begin(block, start, block.length);
      assert.equal(r.read(start), undefined, line);
      assert.deepEqual([r.start, r.end, r.text()], [start, start + Buffer.byteLength(line), line]);
      const ev = event(line);
      assert.deepEqual(fieldsOf(r), readerView(ev), line);
      assert.deepEqual(r.toEvent(), ev);
      // The next line starts after the newline the reader stopped at.
      assert.equal(r.read(r.end + 1), undefined);
      assert.equal(r.text(), line);
      assert.equal(r.read(r.end + 1), 'not_json');
      assert.deepEqual([r.text(), r.end], ['junk after', block.length]);
    }
  });

  it('agrees with parseAccessLine on every truncation and on bytes changed anywhere in captured lines', () => {
    const r = new AccessLineReader();
    const swaps = [0x22, 0x5c, 0x30, 0x39, 0x20, 0x2c, 0x3a, 0x2d, 0x2e, 0x7d, 0x78, 0xff, 0x0d, 0x09];
    let checked = 0;
    for (const line of [...capturedLines(), ...fixtureLines('maintenance-page').slice(0, 2)]) {
      const bytes = Buffer.from(line);
      for (let cut = 0; cut <= bytes.length; cut++) {
        assertAgree(r, bytes.subarray(0, cut));
        checked++;
      }
      for (let i = 0; i < bytes.length; i++) {
        for (const b of swaps) {
          if (bytes[i] === b) continue;
          const changed = Buffer.from(bytes);
          changed[i] = b;
          assertAgree(r, changed);
          checked++;
        }
      }
    }
    assert.ok(checked > 50_000);
  });

  it('reads every line nginx wrote without the parser, and a line with an escape with it', () => {
    const r = new AccessLineReader();
    const plain = all.filter((l) => !l.includes('\\'));
    const block = Buffer.from(plain.join('\n'));
    r.begin(block, 0, block.length);
    let lines = 0;
    for (let at = 0; ; at = r.end + 1) {
      assert.equal(r.read(at), undefined);
      lines++;
      if (r.end >= block.length) break;
    }
    assert.deepEqual([lines, r.parsedLines], [plain.length, 0]);
    const escaped = all.find((l) => l.includes('\\'));
    assert.ok(escaped);
    assert.equal(r.readLine(escaped), undefined);
    assert.equal(r.parsedLines, 1);
  });

  it('tells releases apart that differ in one byte, short and long, after the last four are forgotten', () => {
    const r = new AccessLineReader();
    const base = capturedLines()[0]!;
    assert.match(base, /"release":"[^"]+"/);
    const ids = ['v1', 'v2', 'v1', 'green-2026.11.22-1', 'green-2026.11.22-2', 'green-2026.12.22-1', 'green-2026.11.22-1', 'a', 'b', 'c', 'd', 'e', 'v1', 'green-2026.11.22-1'];
    for (const id of ids) {
      const line = base.replace(/"release":"[^"]+"/, `"release":"${id}"`);
      assertAgree(r, Buffer.from(line));
      assert.equal(r.release, id);
    }
  });

  it('reads the captured kinds: attempts, failures, blame and "no live upstreams"', () => {
    const lines = capturedLines();
    const r = new AccessLineReader();
    const at = (i: number) => {
      assert.equal(r.readLine(lines[i]!), undefined);
      return [r.status, r.pool, r.attempts, r.attemptFailures, r.failedPool, r.noLiveUpstream];
    };
    assert.deepEqual(at(0), [200, 'blue', 1, 0, undefined, false]);
    assert.deepEqual(at(5), [403, undefined, 0, 0, undefined, false]); // nginx answered, no upstream
    assert.deepEqual(at(6), [200, 'green', 2, 1, 'blue', false]); // "500, 200"
    assert.deepEqual(at(8), [502, 'green', 2, 2, 'green', true]); // "500, 502", blue_primary
    assert.deepEqual(at(12), [504, undefined, 2, 2, undefined, false]); // "504, 504"
    assert.deepEqual(at(13), [200, 'green', 2, 1, 'blue', false]); // "504, 200"
    assert.deepEqual(at(15), [502, undefined, 2, 2, undefined, true]); // "504, 502", blue_primary
    assert.equal(r.requestTime, 1);
  });

  it('blames the pool that failed and spots group names', () => {
    const r = new AccessLineReader();
    const load = (l: string) => assert.equal(r.readLine(l), undefined);
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
    for (const line of fixtureLines('malformed')) assert.equal(r.readLine(line), parseAccessLine(line));
  });

  it('sends impossible statuses to the parser, which refuses them', () => {
    const r = new AccessLineReader();
    const line = capturedLines()[0]!;
    assert.match(line, /"status":200,/);
    for (const v of ['1e308', '99', '0', '600', '999']) {
      assert.equal(r.readLine(line.replace('"status":200,', `"status":${v},`)), 'bad_field', `status ${v}`);
    }
  });

  it('reads a non-UTF-8 byte in the URI on the fast path, flagged like the parser does', () => {
    const line = capturedLines()[0]!.replace('"uri":"/"', '"uri":"/\u00ff"');
    const bytes = Buffer.from(line, 'latin1');
    const r = new AccessLineReader();
    assertAgree(r, bytes);
    assert.equal(r.nonUtf8, true);
    assert.equal(r.readLine(capturedLines()[0]!), undefined);
    assert.equal(r.nonUtf8, false);
  });
});
