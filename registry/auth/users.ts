// Registry users: a JSON file of bcrypt hashes and per-repository grants, written atomically,
// re-read when it changes (so `tsregistry user add` works while the server runs). Grants are
// scope patterns: `repository:team-a/*:pull,push`, `repository:*:pull`, `registry:catalog:*`,
// `registry:gc:*`. Password checks run on a PasswordChecker (worker threads in the server);
// an unknown name is checked against a dummy hash so it takes as long as a known one.
import bcrypt from 'bcryptjs';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidInputError, NotFoundError } from '../../shared/errors.js';
import { parseScope, type Access } from './access.js';

export interface UserEntry {
  hash: string;
  access: string[];
}

/** Grants for a new user when none are given: everything. */
export const ADMIN_ACCESS = [
  'repository:*:pull,push,delete',
  'registry:catalog:*',
  'registry:gc:*',
  'registry:users:*',
];

/** A cost-10 bcrypt hash of a random password nobody knows: what unknown names are checked against. */
const DUMMY_HASH = '$2b$10$fQWP5RhazXyWl8dncQ1Ag.wxeWQgoBrOOB6j9y3/RVvySf8cSTNO2';

/** Compares on the calling thread (the CLI); the server passes a PasswordPool. */
const syncChecker = {
  compare: async (password: string, hash: string) => bcrypt.compareSync(password, hash),
};

/**
 * The user's credential generation: changes whenever the password (a new salted hash) or the
 * grants change, and differs after a remove and re-add of the same name. Refresh tokens carry
 * it and stop working when it changes.
 */
export function credentialGeneration(name: string, user: UserEntry): string {
  return createHash('sha256')
    .update(`${name}\0${user.hash}\0${user.access.join(' ')}`)
    .digest('base64url')
    .slice(0, 22);
}

export class UsersFile {
  private cache: { mtimeMs: number; users: Record<string, UserEntry> } | undefined;
  /** sha256(name, password, hash) of verified logins, so bcrypt runs once per credential. */
  private readonly verified = new Set<string>();
  constructor(
    readonly file: string,
    private readonly checker: {
      compare(password: string, hash: string): Promise<boolean>;
    } = syncChecker,
  ) {}

  read(): Record<string, UserEntry> {
    if (!existsSync(this.file)) return {};
    const mtimeMs = statSync(this.file).mtimeMs;
    if (this.cache?.mtimeMs === mtimeMs) return this.cache.users;
    const doc = JSON.parse(readFileSync(this.file, 'utf8')) as {
      users?: Record<string, UserEntry>;
    };
    this.cache = { mtimeMs, users: doc.users ?? {} };
    return this.cache.users;
  }

  exists(): boolean {
    return existsSync(this.file);
  }

  add(name: string, password: string, access: string[] = ADMIN_ACCESS): void {
    if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(name))
      throw new InvalidInputError(`invalid user name "${name}"`);
    checkPassword(password);
    checkGrants(access);
    const users = { ...this.read(), [name]: { hash: bcrypt.hashSync(password, 10), access } };
    this.write(users);
  }

  /** Changes an existing user's password and/or grants (a new credential generation). */
  update(name: string, change: { password?: string; access?: string[] }): void {
    const users = { ...this.read() };
    const user = Object.hasOwn(users, name) ? users[name] : undefined;
    if (!user) throw new NotFoundError(`no such user "${name}"`);
    if (change.password !== undefined) checkPassword(change.password);
    if (change.access !== undefined) checkGrants(change.access);
    users[name] = {
      hash: change.password === undefined ? user.hash : bcrypt.hashSync(change.password, 10),
      access: change.access ?? user.access,
    };
    this.write(users);
  }

  remove(name: string): void {
    const users = { ...this.read() };
    if (!users[name]) throw new NotFoundError(`no such user "${name}"`);
    delete users[name];
    this.write(users);
  }

  /** The user's grants when the password is right, else undefined (same cost either way). */
  async verify(name: string, password: string): Promise<string[] | undefined> {
    const users = this.read();
    const user = Object.hasOwn(users, name) ? users[name] : undefined;
    if (!user) {
      await this.checker.compare(password, DUMMY_HASH);
      return undefined;
    }
    const key = createHash('sha256').update(`${name}\0${password}\0${user.hash}`).digest('hex');
    if (this.verified.has(key)) return user.access;
    if (!(await this.checker.compare(password, user.hash))) return undefined;
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.add(key);
    return user.access;
  }

  /** The current credential generation of a user, undefined when the user does not exist. */
  generation(name: string): string | undefined {
    const users = this.read();
    return Object.hasOwn(users, name) ? credentialGeneration(name, users[name]!) : undefined;
  }

  private write(users: Record<string, UserEntry>): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp-${process.pid}`;
    writeFileSync(tmp, `${JSON.stringify({ users }, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.file);
    this.cache = undefined;
  }
}

function checkPassword(password: string): void {
  if (password.length < 1) throw new InvalidInputError('empty password');
}

function checkGrants(access: string[]): void {
  for (const a of access)
    if (!parseScope(a))
      throw new InvalidInputError(
        `invalid grant "${a}"`,
        'expected e.g. repository:team-a/*:pull,push',
      );
}

/** The intersection of what is asked and what the grant patterns allow. */
export function allowedAccess(grants: string[], asked: Access[]): Access[] {
  const patterns = grants.map((g) => parseScope(g)).filter((g): g is Access => g !== undefined);
  const out: Access[] = [];
  for (const a of asked) {
    const actions = a.actions.filter((action) =>
      patterns.some(
        (p) =>
          p.type === a.type &&
          globMatch(p.name, a.name) &&
          (p.actions.includes(action) || p.actions.includes('*')),
      ),
    );
    if (actions.length > 0) out.push({ type: a.type, name: a.name, actions });
  }
  return out;
}

/** `*` matches any run of characters (including '/'); everything else literally. */
export function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(value);
}
