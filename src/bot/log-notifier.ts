import type { Logger } from '../log.js';
import type { AlertEvent, Notifier } from '../shared/alert.js';

/** Every alert goes to the log, whatever else is configured: the record of last resort. */
export function createLogNotifier(log: Logger): Notifier {
  return {
    name: 'log',
    notify(alert: AlertEvent) {
      const level = alert.status === 'resolved' ? 'info' : alert.severity === 'critical' ? 'error' : alert.severity === 'warning' ? 'warn' : 'info';
      log[level]({ alert }, `${alert.status === 'resolved' ? 'resolved' : 'alert'}: ${alert.title}`);
      return Promise.resolve();
    },
  };
}
