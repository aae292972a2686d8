// The site directory (issue 9 line 2): which team each requester belongs to, who is on each team,
// and who holds each site duty. Alerts are routed by it when they are created (hub migration 8,
// failsafe_route_alert); a requester it does not know sends the alert to the duty radiologist.
//
// `npm run hub -- directory import FILE.csv`, one mapping per row, header required:
//   team,team name,referring physician,requesting service,consultant,members
//   ED,Emergency Department,SMITH^JANE^^DR,,jones,adams;baker
//   ED,,,Emergency Department,,
// - team: the team's short id; team name: its name for people (once per team is enough);
// - referring physician: a Referring Physician Name as DICOM writes it; requesting service: a
//   service name; either, both or neither (a row may only add people to a team);
// - consultant: the hub username of the team's consultant (the "requester's consultant" rung);
// - members: hub usernames, separated by ";" or spaces.
// The requester mappings in the file replace the directory's (a requester absent from the file
// is no longer mapped: its alerts go to the duty radiologist); teams and memberships are added,
// never removed (an alert already routed to a team keeps its team). The whole file is checked
// before anything changes: an unknown username, a requester mapped to two teams or a malformed
// row refuses the import, naming the line, and the directory stays as it was.
import { parse as parseCsv } from 'csv-parse/sync';
import { SITE_DUTIES, type SiteDuty } from '../common/alerts.ts';
import type { HubDb, Queryable } from './db/adapter.ts';

export class DirectoryError extends Error {
  override name = 'DirectoryError';
}

const HEADER = ['team', 'team name', 'referring physician', 'requesting service', 'consultant', 'members'] as const;
const TEAM_ID = /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/;

export interface ImportSummary { teams: number; requesters: number; members: number }

/** The requester key, as the database computes it (failsafe_requester_key): case-folded, ^ and spaces as one space. */
export const requesterKey = (s: string): string => s.toLowerCase().replace(/[\s^=]+/g, ' ').trim();

/** Imports a site directory CSV (see above). All or nothing. */
export async function importDirectory(db: HubDb, csvText: string): Promise<ImportSummary> {
  let records: string[][];
  try {
    records = parseCsv(csvText.replace(/^\uFEFF/, ''), { relax_column_count: false, skip_empty_lines: true, trim: true });
  } catch (err) {
    throw new DirectoryError(`The directory file is not valid CSV: ${err instanceof Error ? err.message : String(err)}`);
  }
  const header = records.shift()?.map((h) => h.toLowerCase());
  if (!header || HEADER.some((h, i) => header[i] !== h) || header.length !== HEADER.length) {
    throw new DirectoryError(`The directory file must start with the header line: ${HEADER.join(',')}`);
  }
  const teams = new Map<string, { name: string; consultant: string | null }>();
  const requesters = new Map<string, { kind: 'name' | 'service'; written: string; team: string; line: number }>();
  const members: { team: string; username: string; line: number }[] = [];
  const usernames = new Set<string>();
  records.forEach((row, i) => {
    const line = i + 2;
    const [team, teamName, physician, service, consultant, memberList] = row as [string, string, string, string, string, string];
    if (!TEAM_ID.test(team)) throw new DirectoryError(`Line ${line}: "${team.slice(0, 80)}" is not a team id (letters, digits, space, _ . -; up to 64).`);
    const known = teams.get(team);
    if (known && teamName && known.name !== teamName && known.name !== team) {
      throw new DirectoryError(`Line ${line}: team ${team} is named "${known.name}" above and "${teamName}" here.`);
    }
    if (known && consultant && known.consultant && known.consultant !== consultant) {
      throw new DirectoryError(`Line ${line}: team ${team} has consultant "${known.consultant}" above and "${consultant}" here.`);
    }
    teams.set(team, { name: teamName || known?.name || team, consultant: consultant || known?.consultant || null });
    if (consultant) usernames.add(consultant);
    for (const [kind, written] of [['name', physician], ['service', service]] as const) {
      const key = requesterKey(written);
      if (key === '') continue;
      const seen = requesters.get(`${kind}:${key}`);
      if (seen && seen.team !== team) {
        throw new DirectoryError(`Line ${line}: ${kind === 'name' ? 'referring physician' : 'requesting service'} "${written}" is mapped to team ${seen.team} on line ${seen.line} and to team ${team} here.`);
      }
      requesters.set(`${kind}:${key}`, { kind, written, team, line });
    }
    for (const username of memberList.split(/[;\s]+/).filter((u) => u !== '')) {
      members.push({ team, username, line });
      usernames.add(username);
    }
  });
  return db.transaction(async (tx) => {
    const ids = await userIds(tx, [...usernames]);
    for (const m of members) if (!ids.has(m.username)) throw new DirectoryError(`Line ${m.line}: no hub account "${m.username}": add it first (npm run hub -- user add …).`);
    for (const [team, t] of teams) if (t.consultant && !ids.has(t.consultant)) throw new DirectoryError(`Team ${team}: no hub account "${t.consultant}" for its consultant.`);
    for (const [id, t] of teams) {
      await tx.query(
        `INSERT INTO teams (id, name, consultant_id) VALUES ($1, $2, $3)
           ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, consultant_id = coalesce(EXCLUDED.consultant_id, teams.consultant_id)`,
        [id, t.name, t.consultant ? ids.get(t.consultant)! : null]);
    }
    await tx.query('DELETE FROM directory_requesters');
    for (const r of requesters.values()) {
      await tx.query('INSERT INTO directory_requesters (kind, written, key, team_id) VALUES ($1, $2, failsafe_requester_key($2), $3)', [r.kind, r.written, r.team]);
    }
    for (const m of members) {
      await tx.query('INSERT INTO team_members (team_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [m.team, ids.get(m.username)!]);
    }
    await tx.query(`INSERT INTO audit (at, actor_id, action, detail) VALUES (now(), NULL, 'directory-import', $1)`,
      [JSON.stringify({ teams: teams.size, requesters: requesters.size, members: members.length })]);
    return { teams: teams.size, requesters: requesters.size, members: members.length };
  });
}

async function userIds(db: Queryable, usernames: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await db.query<{ id: number; username: string }>('SELECT id, username FROM users WHERE username = ANY($1::text[])', [usernames]);
  return new Map(rows.map((r) => [r.username, Number(r.id)]));
}

async function userId(db: Queryable, username: string): Promise<number> {
  const id = (await userIds(db, [username])).get(username);
  if (id === undefined) throw new DirectoryError(`No hub account "${username}".`);
  return id;
}

/** Adds a user to a team (created, named after its id, when new). */
export async function addToTeam(db: Queryable, username: string, team: string): Promise<void> {
  if (!TEAM_ID.test(team)) throw new DirectoryError(`"${team.slice(0, 80)}" is not a team id (letters, digits, space, _ . -; up to 64).`);
  const id = await userId(db, username);
  await db.query('INSERT INTO teams (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING', [team]);
  await db.query('INSERT INTO team_members (team_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [team, id]);
}

/** Gives a user a site duty (the duty radiologist, the cancer pathway lead, the imaging safety lead), or takes it away. */
export async function setDuty(db: Queryable, duty: string, username: string, holds = true): Promise<void> {
  if (!(SITE_DUTIES as readonly string[]).includes(duty)) throw new DirectoryError(`"${duty}" is not a site duty: ${SITE_DUTIES.join(', ')}.`);
  const id = await userId(db, username);
  if (holds) await db.query('INSERT INTO site_duties (duty, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [duty as SiteDuty, id]);
  else await db.query('DELETE FROM site_duties WHERE duty = $1 AND user_id = $2', [duty, id]);
}

/** Sets (or clears, with null) a user's e-mail address for alert notifications. */
export async function setEmail(db: Queryable, username: string, email: string | null): Promise<void> {
  if (email !== null && !/^[^\s@<>"]{1,64}@[^\s@<>"]{1,190}$/.test(email)) throw new DirectoryError(`"${email.slice(0, 80)}" is not an e-mail address.`);
  const id = await userId(db, username);
  await db.query('UPDATE users SET email = $2 WHERE id = $1', [id, email]);
}

/** The directory in lines for people (`hub directory show`). */
export async function describeDirectory(db: Queryable): Promise<string[]> {
  const { rows: teams } = await db.query<{ id: string; name: string; consultant: string | null; members: string[] | null }>(
    `SELECT t.id, t.name, c.username AS consultant,
            (SELECT array_agg(u.username ORDER BY u.username) FROM team_members m JOIN users u ON u.id = m.user_id WHERE m.team_id = t.id) AS members
       FROM teams t LEFT JOIN users c ON c.id = t.consultant_id ORDER BY t.id`);
  const { rows: req } = await db.query<{ kind: string; written: string; team_id: string }>('SELECT kind, written, team_id FROM directory_requesters ORDER BY team_id, kind, key');
  const { rows: duties } = await db.query<{ duty: string; username: string }>('SELECT d.duty, u.username FROM site_duties d JOIN users u ON u.id = d.user_id ORDER BY d.duty, u.username');
  const lines: string[] = [];
  for (const t of teams) {
    lines.push(`team ${t.id} (${t.name}); consultant: ${t.consultant ?? 'none'}; members: ${(t.members ?? []).join(', ') || 'none'}`);
    for (const r of req.filter((x) => x.team_id === t.id)) lines.push(`  ${r.kind === 'name' ? 'referring physician' : 'requesting service'} "${r.written}"`);
  }
  for (const duty of SITE_DUTIES) {
    const holders = duties.filter((d) => d.duty === duty).map((d) => d.username);
    lines.push(`duty ${duty}: ${holders.join(', ') || 'NOBODY (alerts for it go to the imaging safety lead)'}`);
  }
  return lines;
}
