import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

// One registry per app instance (tests build several apps in one process). Names follow Prometheus
// conventions: _total counters, base units (seconds, bytes), labels of low cardinality only.

export function createMetrics() {
  const registry = new Registry();
  // Default process metrics keep their standard names (process_cpu_seconds_total, nodejs_heap_…) so
  // stock Node.js dashboards and alerts work unchanged.
  collectDefaultMetrics({ register: registry });
  const r = [registry];

  return {
    registry,
    requests: new Counter({
      name: 'bluegreen_requests_total',
      help: 'Client requests seen in the nginx access log, by serving pool and status class',
      labelNames: ['pool', 'status_class'] as const,
      registers: r,
    }),
    upstreamErrors: new Counter({
      name: 'bluegreen_upstream_attempt_errors_total',
      help: 'Upstream attempts that failed (5xx or no answer), by pool, whether or not the client saw it',
      labelNames: ['pool'] as const,
      registers: r,
    }),
    errorRate: new Gauge({
      name: 'bluegreen_error_rate_ratio',
      help: 'Client 5xx ratio over the sliding window, by serving pool',
      labelNames: ['pool'] as const,
      registers: r,
    }),
    latencyP95: new Gauge({
      name: 'bluegreen_request_duration_p95_seconds',
      help: 'p95 of request_time over the sliding window, by serving pool',
      labelNames: ['pool'] as const,
      registers: r,
    }),
    retriedRequests: new Counter({
      name: 'bluegreen_retried_requests_total',
      help: 'Requests that failed on one pool and were answered by the other on retry (clients saw no error), by the pool that failed',
      labelNames: ['pool'] as const,
      registers: r,
    }),
    maintenancePage: new Counter({
      name: 'bluegreen_maintenance_page_requests_total',
      help: 'Requests nginx answered with the maintenance page (503 by design): not counted in bluegreen_requests_total, nor as errors',
      registers: r,
    }),
    failovers: new Counter({
      name: 'bluegreen_failovers_total',
      help: 'Failovers seen: traffic served by the backup pool',
      labelNames: ['from_pool'] as const,
      registers: r,
    }),
    switches: new Counter({
      name: 'bluegreen_switches_total',
      help: 'Pool switches and rollbacks, by kind and result',
      labelNames: ['kind', 'result'] as const,
      registers: r,
    }),
    alerts: new Counter({
      name: 'bluegreen_alerts_total',
      help: 'Alert events raised, by kind and status (firing|resolved|suppressed)',
      labelNames: ['kind', 'status'] as const,
      registers: r,
    }),
    alertDeliveries: new Counter({
      name: 'bluegreen_alert_deliveries_total',
      help: 'Alert deliveries, by notifier and result (ok|retry|failed|dropped: the outbox was full)',
      labelNames: ['notifier', 'result'] as const,
      registers: r,
    }),
    linesRead: new Counter({
      name: 'bluegreen_watcher_lines_total',
      help: 'Access-log lines read by the watcher',
      registers: r,
    }),
    linesMalformed: new Counter({
      name: 'bluegreen_watcher_malformed_lines_total',
      help: 'Access-log lines that could not be parsed',
      registers: r,
    }),
    lagBytes: new Gauge({
      name: 'bluegreen_watcher_lag_bytes',
      help: 'Bytes of the access log not yet read',
      registers: r,
    }),
    slackRetries: new Counter({
      name: 'bluegreen_slack_api_retries_total',
      help: 'Slack API calls retried (errors and 429s)',
      labelNames: ['method'] as const,
      registers: r,
    }),
    httpRequestErrors: new Counter({
      name: 'bluegreen_http_request_errors_total',
      help: 'Requests on the bot listener refused or failed, by route and reason (bad_headers, out_of_window, too_large, bad_signature, replay, bad_payload, busy, bolt_error, handler_error, no_ack)',
      labelNames: ['route', 'reason'] as const,
      registers: r,
    }),
    lockWait: new Histogram({
      name: 'bluegreen_operation_lock_wait_seconds',
      help: 'Time operations waited for the operation lock',
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 30],
      registers: r,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
