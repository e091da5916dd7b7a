/** Why someone may or may not do something; `reason` is shown to them as is. */
export type Decision = { allowed: true } | { allowed: false; reason: string };

export interface AuthorizerOptions {
  adminUsers: readonly string[];
  adminGroup: string | undefined;
  /** Channels commands are taken from; empty means every channel. */
  allowedChannels: readonly string[];
  /** The alert channel: its buttons must work even when it is not listed. */
  alertChannel: string | undefined;
  /** usergroups.users.list, injected so tests need no Slack. */
  listGroupMembers: (group: string) => Promise<string[]>;
  /** How long a group's member list is trusted. */
  cacheMs?: number;
  now?: () => number;
}

/**
 * Read-only commands for everyone in an allowed channel; changes only for admins. Judged on every
 * command and every click, by who acted, never by who received the message.
 */
export class Authorizer {
  readonly #o: AuthorizerOptions;
  #group: { members: Set<string>; at: number } | undefined;
  #inflight: Promise<Set<string>> | undefined;

  constructor(opts: AuthorizerOptions) {
    this.#o = opts;
  }

  channelAllowed(channelId: string | undefined): boolean {
    const { allowedChannels, alertChannel } = this.#o;
    if (allowedChannels.length === 0) return true;
    return channelId !== undefined && (allowedChannels.includes(channelId) || channelId === alertChannel);
  }

  get hasAdmins(): boolean {
    return this.#o.adminUsers.length > 0 || this.#o.adminGroup !== undefined;
  }

  /** Admin by list, or by group membership (cached briefly). A failed group lookup is a "no". */
  async isAdmin(userId: string): Promise<{ admin: boolean; note?: string }> {
    if (this.#o.adminUsers.includes(userId)) return { admin: true };
    const group = this.#o.adminGroup;
    if (group === undefined) return { admin: false };
    try {
      const members = await this.#members(group);
      return { admin: members.has(userId) };
    } catch (err) {
      return { admin: false, note: `could not check membership of the admin group (${err instanceof Error ? err.message : String(err)})` };
    }
  }

  async check(userId: string, channelId: string | undefined, mutating: boolean): Promise<Decision> {
    if (!this.channelAllowed(channelId)) {
      return { allowed: false, reason: `bluegreen does not take commands in this channel (allowed: ${this.#o.allowedChannels.map((c) => `<#${c}>`).join(', ')})` };
    }
    if (!mutating) return { allowed: true };
    if (!this.hasAdmins) {
      return { allowed: false, reason: 'no admins are configured (set SLACK_ADMIN_USERS or SLACK_ADMIN_GROUP), so nobody may change the system from Slack' };
    }
    const { admin, note } = await this.isAdmin(userId);
    if (admin) return { allowed: true };
    return { allowed: false, reason: `only admins may change the system${note ? `; ${note}` : ''}` };
  }

  async #members(group: string): Promise<Set<string>> {
    const now = (this.#o.now ?? Date.now)();
    const cached = this.#group;
    if (cached && now - cached.at < (this.#o.cacheMs ?? 60_000)) return cached.members;
    // Many clicks at once share one lookup.
    this.#inflight ??= this.#o
      .listGroupMembers(group)
      .then((users) => {
        const members = new Set(users);
        this.#group = { members, at: (this.#o.now ?? Date.now)() };
        return members;
      })
      .finally(() => {
        this.#inflight = undefined;
      });
    return this.#inflight;
  }
}
