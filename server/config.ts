// Hub configuration: environment variables (overridable by command-line flags) and the site
// policy file, validated with zod at start. Errors name the variable or the policy field.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { SitePolicy } from '../common/hub.ts';
import { issueText } from '../common/validation.ts';

export class HubConfigError extends Error {
  override name = 'HubConfigError';
}

export interface HubConfig {
  host: string;
  port: number;
  /** PostgreSQL connection string; null = embedded PGlite in `dataDir`. */
  databaseUrl: string | null;
  /** PostgreSQL schema (default public). */
  dbSchema: string | null;
  dataDir: string;
  policyFile: string | null;
  policy: SitePolicy;
  /** Alert notifications (server/notify.ts); a channel left null is not configured. */
  notifications: NotificationConfig;
}

export interface NotificationConfig {
  /** The hub's base URL as its users reach it (links in notifications), without a trailing slash. */
  publicUrl: string | null;
  webhook: { url: string; secret: string } | null;
  mail: { smtpUrl: string; from: string } | null;
}

const Env = z.object({
  DATABASE_URL: z.string().trim().regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// or postgresql:// URL').optional(),
  FAILSAFE_HUB_DB_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'lower-case letters, digits and _ only').optional(),
  FAILSAFE_HUB_HOST: z.string().trim().min(1).default('127.0.0.1'),
  FAILSAFE_HUB_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  PORT: z.coerce.number().int().min(0).max(65535).optional(),
  FAILSAFE_HUB_DATA: z.string().trim().min(1).optional(),
  FAILSAFE_HUB_POLICY: z.string().trim().min(1).optional(),
  FAILSAFE_PUBLIC_URL: z.string().trim().regex(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, 'must be an http:// or https:// URL with no query or fragment').optional(),
  FAILSAFE_WEBHOOK_URL: z.string().trim().regex(/^https?:\/\/\S+$/, 'must be an http:// or https:// URL').optional(),
  // The receiver's only proof that a call came from this hub: a short secret can be guessed offline from one signed request.
  FAILSAFE_WEBHOOK_SECRET: z.string().min(32, 'must be at least 32 characters (e.g. `openssl rand -hex 32`)').optional(),
  FAILSAFE_SMTP_URL: z.string().trim().regex(/^smtps?:\/\/\S+$/, 'must be an smtp:// or smtps:// URL (smtp://host:port)').optional(),
  FAILSAFE_MAIL_FROM: z.string().trim().regex(/^(?:[^<>\r\n]*<[^\s@<>]+@[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+)$/, 'must be an e-mail address, e.g. failsafe@hospital.example or "Failsafe <failsafe@hospital.example>"').optional(),
}).superRefine((e, ctx) => {
  // A channel half configured would fail every notification at run time; refuse it at start.
  const need = (when: boolean, key: string, message: string): void => {
    if (when) ctx.addIssue({ code: 'custom', path: [key], message });
  };
  need(!!e.FAILSAFE_WEBHOOK_URL && !e.FAILSAFE_WEBHOOK_SECRET, 'FAILSAFE_WEBHOOK_SECRET', 'required when FAILSAFE_WEBHOOK_URL is set (the webhook is signed with it)');
  need(!e.FAILSAFE_WEBHOOK_URL && !!e.FAILSAFE_WEBHOOK_SECRET, 'FAILSAFE_WEBHOOK_URL', 'required when FAILSAFE_WEBHOOK_SECRET is set');
  need(!!e.FAILSAFE_SMTP_URL && !e.FAILSAFE_MAIL_FROM, 'FAILSAFE_MAIL_FROM', 'required when FAILSAFE_SMTP_URL is set (the sender of alert e-mails)');
  need((!!e.FAILSAFE_WEBHOOK_URL || !!e.FAILSAFE_SMTP_URL) && !e.FAILSAFE_PUBLIC_URL, 'FAILSAFE_PUBLIC_URL',
    'required when notifications are configured (their only content is a link to the alert on the hub)');
});

export interface HubFlags {
  host?: string;
  port?: string;
  data?: string;
  policy?: string;
}

/** Reads and validates a policy file; the error says which file and which field. */
export function readPolicyFile(file: string): SitePolicy {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new HubConfigError(`site policy ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new HubConfigError(`site policy ${file}: not valid JSON (${(err as Error).message})`);
  }
  const r = SitePolicy.safeParse(json);
  if (!r.success) {
    throw new HubConfigError(`site policy ${file}: ${issueText(r.error, { root: '(file)' })}`);
  }
  return r.data;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, flags: HubFlags = {}, cwd = process.cwd()): HubConfig {
  const picked = Object.fromEntries(Object.keys(Env.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]));
  const merged = {
    ...picked,
    ...(flags.host !== undefined ? { FAILSAFE_HUB_HOST: flags.host } : {}),
    ...(flags.port !== undefined ? { FAILSAFE_HUB_PORT: flags.port } : {}),
    ...(flags.data !== undefined ? { FAILSAFE_HUB_DATA: flags.data } : {}),
    ...(flags.policy !== undefined ? { FAILSAFE_HUB_POLICY: flags.policy } : {}),
  };
  const r = Env.safeParse(merged);
  if (!r.success) {
    throw new HubConfigError(`hub configuration: ${issueText(r.error, { root: '(environment)' })}`);
  }
  const e = r.data;
  const policyFile = e.FAILSAFE_HUB_POLICY ? path.resolve(cwd, e.FAILSAFE_HUB_POLICY) : null;
  return {
    host: e.FAILSAFE_HUB_HOST,
    port: e.FAILSAFE_HUB_PORT ?? e.PORT ?? 8787,
    databaseUrl: e.DATABASE_URL ?? null,
    dbSchema: e.FAILSAFE_HUB_DB_SCHEMA ?? null,
    dataDir: path.resolve(cwd, e.FAILSAFE_HUB_DATA ?? 'hub-data'),
    policyFile,
    policy: policyFile ? readPolicyFile(policyFile) : SitePolicy.parse({}),
    notifications: {
      publicUrl: e.FAILSAFE_PUBLIC_URL?.replace(/\/+$/, '') ?? null,
      webhook: e.FAILSAFE_WEBHOOK_URL && e.FAILSAFE_WEBHOOK_SECRET ? { url: e.FAILSAFE_WEBHOOK_URL, secret: e.FAILSAFE_WEBHOOK_SECRET } : null,
      mail: e.FAILSAFE_SMTP_URL && e.FAILSAFE_MAIL_FROM ? { smtpUrl: e.FAILSAFE_SMTP_URL, from: e.FAILSAFE_MAIL_FROM } : null,
    },
  };
}
