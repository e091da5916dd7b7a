/** Who asked: a Slack user, a CLI user, or the bot itself (auto-demote, guard, expiry). */
export interface Actor {
  kind: 'slack' | 'cli' | 'auto';
  id: string;
  name?: string;
}
