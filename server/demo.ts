// Demo accounts, created ONLY by the embedded hub that `npm start` runs for a single user with
// no setup. A department hub (`npm run hub`) never has them; its users come from
// `npm run hub -- user add`.
import type { Role } from '../common/report.ts';

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
