// Identity: scrypt password hashes (node:crypto, random salt, constant-time compare), random
// session tokens stored only as SHA-256 hashes, expiry, logout, and lockout with doubling backoff.
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import { z } from 'zod';
import { Username, type HubUser, type SitePolicy } from '../common/hub.ts';
import { Profile, type Role as RoleT } from '../common/report.ts';
import { issueText } from '../common/validation.ts';
import type { HubDb, Queryable } from './db/adapter.ts';

const scrypt = promisify(crypto.scrypt) as (pw: crypto.BinaryLike, salt: crypto.BinaryLike, len: number, opts: crypto.ScryptOptions) => Promise<Buffer>;

/**
 * scrypt cost: N=2^15, r=8, p=3, one of OWASP's equivalent minimum settings (32 MiB per hash, so
 * a burst of logins cannot exhaust memory the way N=2^17 would). The parameters are stored with
 * each hash, so raising them later only affects new passwords.
 */
export const SCRYPT = { N: 1 << 15, r: 8, p: 3, keyLen: 64, maxmem: 64 * 1024 * 1024 } as const;

export async function hashPassword(password: string, cost: { N: number; r: number; p: number } = SCRYPT): Promise<string> {
  const salt = crypto.randomBytes(16);
  const key = await scrypt(password.normalize('NFC'), salt, SCRYPT.keyLen, { N: cost.N, r: cost.r, p: cost.p, maxmem: SCRYPT.maxmem });
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, saltB64, keyB64] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(keyB64, 'base64');
  const key = await scrypt(password.normalize('NFC'), Buffer.from(saltB64, 'base64'), expected.length, {
    N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem,
  });
  return key.length === expected.length && crypto.timingSafeEqual(key, expected);
}

/** A hash of a random password: verified against when the username is unknown, so timing does not tell. */
let dummyHash: Promise<string> | null = null;
const getDummyHash = (): Promise<string> => (dummyHash ??= hashPassword(crypto.randomBytes(16).toString('hex')));

export const sha256Hex = (text: string): string => crypto.createHash('sha256').update(text, 'utf8').digest('hex');

export function newToken(): string {
  return `fsh_${crypto.randomBytes(32).toString('base64url')}`;
}

export interface UserRow {
  id: number;
  username: string;
  name: string;
  role: RoleT;
  registration: string;
  password_hash: string;
  failed_logins: number;
  locked_until: string | null;
  disabled: boolean;
  /** When the account was created (ISO): nobody signs before their account existed. */
  created_at: string;
}

export const toHubUser = (u: Pick<UserRow, 'username' | 'name' | 'role' | 'registration'>): HubUser => ({
  username: u.username, name: u.name, role: u.role, registration: u.registration,
});

export const NewUser = Profile.extend({
  username: Username,
  password: z.string().min(10, 'a password needs at least 10 characters').max(1024),
});

export class UserExistsError extends Error {
  override name = 'UserExistsError';
}

/** Creates a user (CLI, demo users). `minLength: false` only for the embedded demo users. */
export async function createUser(
  db: Queryable,
  input: { username: string; name: string; role: RoleT; registration: string; password: string },
  opts: { allowShortPassword?: boolean; cost?: { N: number; r: number; p: number }; demo?: boolean } = {},
): Promise<HubUser> {
  const schema = opts.allowShortPassword ? NewUser.extend({ password: z.string().min(1).max(1024) }) : NewUser;
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new Error(`invalid user: ${issueText(parsed.error, { root: 'user' })}`);
  }
  const u = parsed.data;
  const hash = await hashPassword(u.password, opts.cost);
  const r = await db.query<UserRow>(
    // The demo mark only for demo accounts (the column's default is false; tests build databases of earlier releases with this).
    `INSERT INTO users (username, name, role, registration, password_hash${opts.demo ? ', demo' : ''}) VALUES ($1, $2, $3, $4, $5${opts.demo ? ', true' : ''})
     ON CONFLICT (username) DO NOTHING RETURNING *`,
    [u.username, u.name, u.role, u.registration, hash],
  );
  const row = r.rows[0];
  if (!row) throw new UserExistsError(`user ${u.username} already exists`);
  return toHubUser(row);
}

export type LoginOutcome =
  | { ok: true; token: string; expiresAt: string; user: UserRow }
  | { ok: false; reason: 'bad-credentials' }
  | { ok: false; reason: 'locked-out'; retryAfterSeconds: number };

export async function login(db: HubDb, policy: SitePolicy, username: string, password: string, now: number): Promise<LoginOutcome> {
  const { rows } = await db.query<UserRow>('SELECT * FROM users WHERE username = $1', [username]);
  const user = rows[0];
  if (!user || user.disabled) {
    // Counted and locked exactly like an account, and checked against a dummy hash (the same
    // time): the answers (401, then 429 with the same backoff) never tell whether a name exists.
    const attempt = await reserveUnknownAttempt(db, policy, username, now);
    if (!attempt.ok) return attempt;
    await verifyPassword(password, await getDummyHash());
    return attempt.lockedUntil && Date.parse(attempt.lockedUntil) > now ? lockedOut(attempt.lockedUntil, now) : { ok: false, reason: 'bad-credentials' };
  }
  const attempt = await reserveAttempt(db, policy, user.id, now);
  if (!attempt.ok) return attempt;
  const good = await verifyPassword(password, user.password_hash);
  const at = new Date(now).toISOString();
  if (!good) return recordFailure(db, user.id, now, 'login-failed', attempt);
  const token = newToken();
  const expiresAt = new Date(now + policy.sessionHours * 3600_000).toISOString();
  await db.transaction(async (tx) => {
    await tx.query('UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1', [user.id]);
    await tx.query('INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)', [sha256Hex(token), user.id, at, expiresAt]);
    await tx.query(`INSERT INTO audit (at, actor_id, action) VALUES ($1, $2, 'login')`, [at, user.id]);
  });
  return { ok: true, token, expiresAt, user };
}

export interface SessionUser extends UserRow {
  session_hash: string;
  expires_at: string;
  ended_at: string | null;
}

export type SessionLookup = { ok: true; user: SessionUser } | { ok: false; reason: 'unauthenticated' | 'session-expired' };

export async function lookupSession(db: Queryable, token: string, now: number): Promise<SessionLookup> {
  const { rows } = await db.query<SessionUser>(
    `SELECT u.*, s.token_hash AS session_hash, s.expires_at, s.ended_at
       FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1`,
    [sha256Hex(token)],
  );
  const row = rows[0];
  if (!row || row.disabled) return { ok: false, reason: 'unauthenticated' };
  if (row.ended_at !== null || Date.parse(row.expires_at) <= now) return { ok: false, reason: 'session-expired' };
  return { ok: true, user: row };
}

/**
 * SQL: when `failures` (the count with this attempt) reaches the limit ($2), the end of the lock:
 * now ($3) plus base seconds ($4) doubling per failure past the limit, at most $5; else NULL.
 */
const lockUntil = (failures: string): string =>
  `CASE WHEN ${failures} >= $2 THEN $3::timestamptz + make_interval(secs => LEAST($5::float8, $4::float8 * power(2, ${failures} - $2))) ELSE NULL END`;

/** A password attempt reserved: the failures it counts with, and the lock it set if it is the last allowed. */
interface Attempt { ok: true; failures: number; lockedUntil: string | null }

const lockedOut = (lockedUntil: string, now: number): { ok: false; reason: 'locked-out'; retryAfterSeconds: number } =>
  ({ ok: false, reason: 'locked-out', retryAfterSeconds: Math.max(1, Math.ceil((Date.parse(lockedUntil) - now) / 1000)) });

/**
 * Before a password is checked (a login, or a signer's confirmation), the attempt is counted as a
 * failure in one atomic statement that refuses a locked account; a right password then clears
 * the count. So parallel guesses cannot all be checked before the first failure is counted: of
 * 100 at once, `maxFailures` are checked and the rest are refused as locked (issue 8 finding 11).
 * The attempt that reaches the limit sets the lock (doubling backoff) even before its password is
 * known; if that password is right, the lock is lifted with the count.
 */
async function reserveAttempt(db: Queryable, policy: SitePolicy, userId: number, now: number): Promise<Reserved> {
  return reserve(db, policy, now, userId,
    `UPDATE users SET failed_logins = failed_logins + 1, locked_until = coalesce(${lockUntil('failed_logins + 1')}, locked_until)
     WHERE id = $1 AND (locked_until IS NULL OR locked_until <= $3::timestamptz)
     RETURNING failed_logins, locked_until`,
    'SELECT locked_until FROM users WHERE id = $1');
}

/**
 * reserveAttempt for a name no (enabled) account has, in login_failures (hub migration 5): the same
 * count, limit and doubling backoff. Rows a day without a failure are dropped, so guessing names
 * cannot grow the table without bound.
 */
async function reserveUnknownAttempt(db: Queryable, policy: SitePolicy, username: string, now: number): Promise<Reserved> {
  await db.query(`DELETE FROM login_failures WHERE last_failure_at < $1::timestamptz - interval '1 day'`, [new Date(now).toISOString()]);
  return reserve(db, policy, now, username,
    `INSERT INTO login_failures AS f (username, failed_logins, locked_until, last_failure_at) VALUES ($1, 1, ${lockUntil('1')}, $3)
     ON CONFLICT (username) DO UPDATE SET failed_logins = f.failed_logins + 1,
       locked_until = coalesce(${lockUntil('f.failed_logins + 1')}, f.locked_until), last_failure_at = $3
     WHERE f.locked_until IS NULL OR f.locked_until <= $3::timestamptz
     RETURNING failed_logins, locked_until`,
    'SELECT locked_until FROM login_failures WHERE username = $1');
}

type Reserved = Attempt | { ok: false; reason: 'locked-out'; retryAfterSeconds: number };

/**
 * Runs `counting` (parameters: the key $1, the limit $2, now $3, base $4 and most $5 seconds),
 * which counts the attempt and returns the new count and lock, or no row when the key is locked;
 * then, if locked, reads the lock's end with `lockedEnd` ($1: the key).
 */
async function reserve(db: Queryable, policy: SitePolicy, now: number, key: number | string, counting: string, lockedEnd: string): Promise<Reserved> {
  const at = new Date(now).toISOString();
  const { maxFailures, baseSeconds, maxSeconds } = policy.lockout;
  const upd = await db.query<{ failed_logins: number; locked_until: string | null }>(counting, [key, maxFailures, at, baseSeconds, maxSeconds]);
  const row = upd.rows[0];
  if (!row) {
    const { rows } = await db.query<{ locked_until: string | null }>(lockedEnd, [key]);
    return lockedOut(rows[0]?.locked_until ?? at, now);
  }
  return { ok: true, failures: row.failed_logins, lockedUntil: row.locked_until };
}

/** A wrong password: its attempt stays counted (reserveAttempt); audited; locked out if it reached the limit. */
async function recordFailure(
  db: Queryable, userId: number, now: number, action: 'login-failed' | 'signer-confirm-failed', attempt: Attempt,
): Promise<{ ok: false; reason: 'bad-credentials' } | { ok: false; reason: 'locked-out'; retryAfterSeconds: number }> {
  const at = new Date(now).toISOString();
  await db.query(`INSERT INTO audit (at, actor_id, action, detail) VALUES ($1, $2, $3, $4)`, [at, userId, action, JSON.stringify({ failures: attempt.failures })]);
  if (attempt.lockedUntil && Date.parse(attempt.lockedUntil) > now) return lockedOut(attempt.lockedUntil, now);
  return { ok: false, reason: 'bad-credentials' };
}

export type ConfirmOutcome =
  | { ok: true; confirmedAt: string }
  | { ok: false; reason: 'bad-credentials' }
  | { ok: false; reason: 'locked-out'; retryAfterSeconds: number };

/**
 * Re-authentication before signing (21 CFR 11.200(a)): the session's user enters their password
 * again. A wrong password counts towards lockout exactly like a failed login; a locked account
 * cannot confirm. The password is checked and forgotten: never stored, never logged.
 */
export async function confirmSigner(db: HubDb, policy: SitePolicy, user: SessionUser, password: string, now: number): Promise<ConfirmOutcome> {
  const { rows } = await db.query<Pick<UserRow, 'password_hash' | 'disabled'>>('SELECT password_hash, disabled FROM users WHERE id = $1', [user.id]);
  const row = rows[0];
  if (!row || row.disabled) return { ok: false, reason: 'bad-credentials' };
  const attempt = await reserveAttempt(db, policy, user.id, now);
  if (!attempt.ok) return attempt;
  if (!(await verifyPassword(password, row.password_hash))) return recordFailure(db, user.id, now, 'signer-confirm-failed', attempt);
  const at = new Date(now).toISOString();
  await db.transaction(async (tx) => {
    await tx.query('UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1', [user.id]);
    await tx.query(`INSERT INTO audit (at, actor_id, action) VALUES ($1, $2, 'signer-confirmed')`, [at, user.id]);
  });
  return { ok: true, confirmedAt: at };
}

export async function logout(db: HubDb, sessionHash: string, userId: number, now: number): Promise<void> {
  const at = new Date(now).toISOString();
  await db.transaction(async (tx) => {
    await tx.query(`UPDATE sessions SET ended_at = $2, ended_reason = 'logout' WHERE token_hash = $1 AND ended_at IS NULL`, [sessionHash, at]);
    await tx.query(`INSERT INTO audit (at, actor_id, action) VALUES ($1, $2, 'logout')`, [at, userId]);
  });
}

export class UserNotFoundError extends Error {
  override name = 'UserNotFoundError';
}

/** What `npm run hub -- user …` can do to an account besides creating it. */
export const ACCOUNT_CHANGES = ['disable', 'enable', 'reset-password', 'revoke-sessions'] as const;
export type AccountChange = (typeof ACCOUNT_CHANGES)[number];

/** The channel on which a hub instance hears that a user's sessions ended (one per database + schema, like events). */
export const sessionChannel = (db: Pick<HubDb, 'eventChannel'>): string => db.eventChannel.replace(/^failsafe_events_/, 'failsafe_sessions_');

/**
 * Disables or enables an account, resets its password or ends its sessions, in one transaction
 * with an audit row. Disabling, a new password and revocation end every open session of the user
 * at once: the database says so at the next request, and every hub instance listening is told to
 * forget what it cached and to close the user's event streams (NOTIFY after the commit). Enabling
 * also clears a lockout. Returns the user and how many sessions were ended.
 */
export async function changeAccount(
  db: HubDb, username: string, change: AccountChange, opts: { password?: string; now?: number; cost?: { N: number; r: number; p: number } } = {},
): Promise<{ user: HubUser; sessionsEnded: number }> {
  const at = new Date(opts.now ?? Date.now()).toISOString();
  let hash: string | null = null;
  if (change === 'reset-password') {
    const pw = NewUser.shape.password.safeParse(opts.password ?? '');
    if (!pw.success) throw new Error(`invalid user: ${issueText(pw.error, { root: 'password' })}`);
    hash = await hashPassword(pw.data, opts.cost);
  }
  const out = await db.transaction(async (tx) => {
    const { rows } = await tx.query<UserRow>('SELECT * FROM users WHERE username = $1 FOR UPDATE', [username]);
    const user = rows[0];
    if (!user) throw new UserNotFoundError(`no user ${username}`);
    if (change === 'disable') await tx.query('UPDATE users SET disabled = true WHERE id = $1', [user.id]);
    if (change === 'enable') await tx.query('UPDATE users SET disabled = false, failed_logins = 0, locked_until = NULL WHERE id = $1', [user.id]);
    if (hash !== null) await tx.query('UPDATE users SET password_hash = $2, failed_logins = 0, locked_until = NULL WHERE id = $1', [user.id, hash]);
    const ended = change === 'enable' ? { rowCount: 0 }
      : await tx.query(`UPDATE sessions SET ended_at = $2, ended_reason = $3 WHERE user_id = $1 AND ended_at IS NULL`, [user.id, at, `account: ${change}`]);
    await tx.query(`INSERT INTO audit (at, actor_id, action, detail) VALUES ($1, NULL, $2, $3)`,
      [at, `user-${change}`, JSON.stringify({ username: user.username, sessionsEnded: ended.rowCount })]);
    return { user, sessionsEnded: ended.rowCount };
  });
  if (change !== 'enable') await db.query('SELECT pg_notify($1, $2)', [sessionChannel(db), String(out.user.id)]).catch(() => {});
  return { user: toHubUser(out.user), sessionsEnded: out.sessionsEnded };
}

/**
 * The first account of a hub that has none but demo accounts (the installed app's embedded hub):
 * created only while no other account exists, in one statement, so two first users at once make
 * one account. False when an account exists already.
 */
export async function createFirstUser(db: HubDb, input: { username: string; name: string; role: RoleT; registration: string; password: string }, opts: { cost?: { N: number; r: number; p: number } } = {}): Promise<HubUser | null> {
  const parsed = NewUser.safeParse(input);
  if (!parsed.success) throw new Error(`invalid user: ${issueText(parsed.error, { root: 'user' })}`);
  const u = parsed.data;
  const hash = await hashPassword(u.password, opts.cost);
  const { rows } = await db.transaction(async (tx) => {
    // One first user: concurrent attempts serialise on this lock and the second finds the first.
    await tx.query('SELECT pg_advisory_xact_lock(7020746866)');
    const r = await tx.query<UserRow>(
      `INSERT INTO users (username, name, role, registration, password_hash)
       SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM users WHERE NOT demo)
       ON CONFLICT (username) DO NOTHING RETURNING *`,
      [u.username, u.name, u.role, u.registration, hash],
    );
    if (r.rows[0]) await tx.query(`INSERT INTO audit (at, actor_id, action, detail) VALUES (now(), $1, 'first-user-created', '{}')`, [r.rows[0].id]);
    return r;
  });
  return rows[0] ? toHubUser(rows[0]) : null;
}

/** Whether the hub still waits for its first account (none but demo accounts). */
export async function awaitingFirstUser(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ none: boolean }>('SELECT NOT EXISTS (SELECT 1 FROM users WHERE NOT demo) AS none');
  return rows[0]?.none === true;
}

/** Out of demo mode: every demo account (published password) disabled, its sessions ended. Returns how many were enabled. */
export async function disableDemoAccounts(db: HubDb, now = Date.now()): Promise<number> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ id: number }>('UPDATE users SET disabled = true WHERE demo AND NOT disabled RETURNING id');
    if (rows.length > 0) {
      await tx.query(`UPDATE sessions SET ended_at = $2, ended_reason = 'demo accounts disabled' WHERE user_id = ANY($1) AND ended_at IS NULL`, [rows.map((r) => r.id), new Date(now).toISOString()]);
    }
    return rows.length;
  });
}
