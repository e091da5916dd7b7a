// Realistic access-log lines for the watcher benchmarks (field sizes as nginx writes them).

const PATHS = ['/', '/version', '/api/items', '/api/items/8812', '/api/orders?page=3&size=50', '/static/app.3f9c2a.js', '/api/search?q=blue+green+deployment&lang=en'];

/** Line i of a steady stream: mostly 200s from blue, some 404s and retried requests. */
export function makeLine(i: number, timeMs: number): string {
  const t = new Date(Math.floor(timeMs / 1000) * 1000).toISOString().replace('.000Z', '+00:00');
  const id = (i * 2654435761).toString(16).padStart(12, '0').slice(-12).padStart(32, 'a');
  const uri = PATHS[i % PATHS.length]!;
  const rt = ((i * 7) % 40) / 1000;
  let status = 200;
  let ua = '172.18.0.3:3000';
  let us = '200';
  let urt = rt.toFixed(3);
  let pool = 'blue';
  if (i % 50 === 7) status = 404;
  if (i % 997 === 13) {
    ua = '172.18.0.3:3000, 172.18.0.4:3000';
    us = '500, 200';
    urt = `0.001, ${rt.toFixed(3)}`;
    pool = 'green';
  }
  if (i % 50 === 7) us = '404';
  return `{"time":"${t}","remote_addr":"172.18.0.1","request_id":"${id}","method":"${i % 9 === 0 ? 'POST' : 'GET'}","uri":"${uri}","status":${status},"body_bytes_sent":${60 + (i % 1900)},"request_time":${rt.toFixed(3)},"upstream_addr":"${ua}","upstream_status":"${us}","upstream_response_time":"${urt}","pool":"${pool}","release":"${pool}-2026.11.22-1"}`;
}
