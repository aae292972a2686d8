// The hub's storage seam: the same SQL runs on PostgreSQL (pg) and on embedded PGlite. Handlers
// see only this interface: parameterised queries, transactions and LISTEN/NOTIFY.

export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface Queryable {
  /**
   * `prepare`: keep the statement prepared on the connection (PostgreSQL: parsed and planned once
   * per connection, not on every call), for the few statements the hub runs many times a second.
   * Only for statements whose text is fixed and that run after migrations.
   */
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[], opts?: { prepare?: boolean }): Promise<QueryResult<T>>;
  /** Runs a multi-statement SQL script without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface HubDb extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** The notification channel for this database + schema (channels are database-wide in PG). */
  readonly eventChannel: string;
  /** Runs `fn` in one transaction (READ COMMITTED); commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** LISTEN on a channel; the handler gets each payload. Resolves to an unlisten function. */
  listen(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** Postgres text timestamps ("2024-01-02 03:04:05.678+00") → ISO 8601 UTC ("2024-01-02T03:04:05.678Z"). */
export function parseTimestamptz(v: string): string {
  const m = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d(?:\.\d+)?)(Z|[+-]\d\d(?::?\d\d)?)?$/.exec(v);
  if (!m) return v;
  let off = m[3] ?? 'Z';
  if (/^[+-]\d\d$/.test(off)) off += ':00';
  else if (/^[+-]\d{4}$/.test(off)) off = `${off.slice(0, 3)}:${off.slice(3)}`;
  const d = new Date(`${m[1]}T${m[2]}${off}`);
  return Number.isNaN(d.getTime()) ? v : d.toISOString();
}

/** int8 → number (seq and ids stay far below 2^53). */
export function parseInt8(v: string): number {
  return Number(v);
}

export const OID_INT8 = 20;
export const OID_TIMESTAMPTZ = 1184;

/** A safe SQL identifier for schema names (tests use one schema per file). */
export function assertIdentifier(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid schema name ${JSON.stringify(name)}`);
  return name;
}
