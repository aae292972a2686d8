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
}

const Env = z.object({
  DATABASE_URL: z.string().trim().regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// or postgresql:// URL').optional(),
  FAILSAFE_HUB_DB_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'lower-case letters, digits and _ only').optional(),
  FAILSAFE_HUB_HOST: z.string().trim().min(1).default('127.0.0.1'),
  FAILSAFE_HUB_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  PORT: z.coerce.number().int().min(0).max(65535).optional(),
  FAILSAFE_HUB_DATA: z.string().trim().min(1).optional(),
  FAILSAFE_HUB_POLICY: z.string().trim().min(1).optional(),
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
  };
}
