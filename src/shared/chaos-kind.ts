/**
 * The faults `chaos start` makes (shared/SPEC.md grammar): kill, stop and pause through the Docker
 * API (any app); error and timeout through the demo app's own chaos listener; delay and loss are
 * network faults (refused until a helper runs them).
 */
export const CHAOS_KINDS = ['error', 'timeout', 'kill', 'stop', 'pause', 'delay', 'loss'] as const;
export type ChaosKind = (typeof CHAOS_KINDS)[number];

/** The kinds that take an amount: delay in ms, loss in percent. */
export const CHAOS_AMOUNT = { delay: { unit: 'ms', min: 1, max: 60_000 }, loss: { unit: '%', min: 1, max: 100 } } as const;
