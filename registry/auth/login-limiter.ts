// Failed-login rate limiting for the token service: failures are counted per user name and per
// client address in a fixed window that starts at the first failure; once either count reaches
// its limit, logins for that name or from that address are refused with 429 TOOMANYREQUESTS
// and a Retry-After until the window ends, without checking the password (as zot and Harbor
// do). A successful login clears the user's count. Memory is bounded.

export interface LoginLimitConfig {
  enabled: boolean;
  /** Failed logins per user name per window (0: no per-user limit). */
  peruser: number;
  /** Failed logins per client address per window (0: no per-address limit). */
  peraddress: number;
  /** Window length in seconds. */
  window: number;
}

interface Bucket {
  count: number;
  resetAt: number;
}

const MAX_KEYS = 50_000;

export class LoginLimiter {
  private readonly buckets = new Map<string, Bucket>();
  constructor(
    private readonly config: LoginLimitConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds to wait when `user` or `address` is locked out, else undefined. */
  blocked(user: string, address: string): number | undefined {
    if (!this.config.enabled) return undefined;
    const waits = [
      this.wait(`u:${user}`, this.config.peruser),
      this.wait(`a:${normalizeAddress(address)}`, this.config.peraddress),
    ].filter((w): w is number => w !== undefined);
    return waits.length ? Math.max(...waits) : undefined;
  }

  failed(user: string, address: string): void {
    if (!this.config.enabled) return;
    if (this.config.peruser > 0) this.count(`u:${user}`);
    if (this.config.peraddress > 0) this.count(`a:${normalizeAddress(address)}`);
  }

  succeeded(user: string): void {
    this.buckets.delete(`u:${user}`);
  }

  private wait(key: string, limit: number): number | undefined {
    if (limit <= 0) return undefined;
    const b = this.buckets.get(key);
    if (!b) return undefined;
    const left = b.resetAt - this.now();
    if (left <= 0) {
      this.buckets.delete(key);
      return undefined;
    }
    return b.count >= limit ? Math.ceil(left / 1000) : undefined;
  }

  private count(key: string): void {
    const now = this.now();
    const b = this.buckets.get(key);
    if (b && b.resetAt > now) b.count++;
    else {
      if (this.buckets.size >= MAX_KEYS) this.evict(now);
      this.buckets.set(key, { count: 1, resetAt: now + this.config.window * 1000 });
    }
  }

  /** Drops expired buckets, then the oldest ones if still full. */
  private evict(now: number): void {
    for (const [k, b] of this.buckets) if (b.resetAt <= now) this.buckets.delete(k);
    for (const k of this.buckets.keys()) {
      if (this.buckets.size < MAX_KEYS * 0.9) break;
      this.buckets.delete(k);
    }
  }
}

function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
