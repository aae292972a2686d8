// Demo accounts, created ONLY by the embedded hub that `npm start` runs for a single user with
// no setup. A department hub (`npm run hub`) never has them; its users come from
// `npm run hub -- user add`.
import type { Role } from '../common/report.ts';
import type { Queryable } from './db/adapter.ts';

export const DEMO_PASSWORD = 'demo';

export const DEMO_USERS: readonly { username: string; name: string; role: Role; registration: string }[] = [
  { username: 'radiologist', name: 'Dr Ada Lovelace', role: 'radiologist', registration: 'GMC 1234567' },
  { username: 'locum', name: 'Dr Mary Somerville', role: 'locum', registration: 'GMC 2345678' },
  { username: 'radiographer', name: 'Rosalind Franklin', role: 'radiographer', registration: 'HCPC RA123456' },
  { username: 'trainee', name: 'Dr Alan Turing', role: 'trainee', registration: 'GMC 1111111' },
  { username: 'trainer', name: 'Dr Grace Hopper', role: 'trainer', registration: 'GMC 7654321' },
  { username: 'referrer', name: 'Dr John Snow', role: 'referrer', registration: 'GMC 3456789' },
  { username: 'safety-lead', name: 'Dr Florence Nightingale', role: 'safety-lead', registration: 'GMC 4567890' },
];

/**
 * The demo's site directory (issue 9): the referrer is on the Emergency Department team, which
 * requests by that service name; the demo radiologist is the duty radiologist, so an alert on a
 * study naming no requester (the sample study names none) reaches someone at once; the safety
 * lead holds the imaging safety lead's duty. Added only where missing: a demo run never undoes
 * what someone changed.
 */
export async function seedDemoDirectory(db: Queryable): Promise<void> {
  await db.query(`INSERT INTO teams (id, name, consultant_id) SELECT 'ED', 'Emergency Department', NULL WHERE NOT EXISTS (SELECT 1 FROM teams WHERE id = 'ED')`);
  await db.query(`INSERT INTO team_members (team_id, user_id) SELECT 'ED', id FROM users WHERE username = 'referrer' AND demo ON CONFLICT DO NOTHING`);
  await db.query(`INSERT INTO directory_requesters (kind, written, key, team_id)
    SELECT 'service', 'Emergency Department', failsafe_requester_key('Emergency Department'), 'ED'
     WHERE NOT EXISTS (SELECT 1 FROM directory_requesters WHERE kind = 'service' AND key = failsafe_requester_key('Emergency Department'))`);
  await db.query(`INSERT INTO site_duties (duty, user_id) SELECT d.duty, u.id FROM (VALUES ('duty-radiologist', 'radiologist'), ('imaging-safety-lead', 'safety-lead')) AS d(duty, username)
    JOIN users u ON u.username = d.username AND u.demo ON CONFLICT DO NOTHING`);
}
