import type { Progress } from '../shared/progress.js';

// Progress of a long command (switch, deploy, drill) as one line per step with the time since the
// command started. Slack renders steps by updating one message (src/bot); the CLI prints lines.

/** `[  1.3s] step` lines through `write` (the CLI passes stderr, so stdout stays the answer). */
export function createLineProgress(write: (line: string) => void, now: () => number = () => performance.now()): Progress {
  const started = now();
  return (step) => {
    const sec = (now() - started) / 1000;
    write(`[${sec.toFixed(1).padStart(5)}s] ${step}\n`);
  };
}
