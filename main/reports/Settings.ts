// The local signer profile (used when there is no hub login) and small key/value settings (e.g.
// the hub session), in the same database as the reports.
import { ContractError } from '../../common/contract.ts';
import { Profile } from '../../common/report.ts';
import type { Db } from '../db/database.ts';

export class Settings {
  private readonly st;

  constructor(
    db: Db,
    private readonly now: () => Date,
  ) {
    this.st = {
      getProfile: db.prepare<[], { name: string; role: string; registration: string }>('SELECT name, role, registration FROM profile WHERE id = 1'),
      setProfile: db.prepare<[string, string, string, string]>(
        `INSERT INTO profile (id, name, role, registration, updated_at) VALUES (1, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, registration = excluded.registration, updated_at = excluded.updated_at`,
      ),
      getSetting: db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?'),
      setSetting: db.prepare<[string, string]>('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      deleteSetting: db.prepare<[string]>('DELETE FROM settings WHERE key = ?'),
    };
  }

  getProfile(): Profile | null {
    const row = this.st.getProfile.get();
    if (!row) return null;
    const parsed = Profile.safeParse(row);
    return parsed.success ? parsed.data : null;
  }

  setProfile(p: Profile): Profile {
    const parsed = Profile.safeParse(p);
    if (!parsed.success) throw new ContractError('invalid-input', 'A profile needs a name, a role and a registration number.');
    const { name, role, registration } = parsed.data;
    this.st.setProfile.run(name, role, registration, this.now().toISOString());
    return { name, role, registration };
  }

  /** A stored setting (e.g. the hub session), or null. */
  getSetting(key: string): string | null {
    return this.st.getSetting.get(key)?.value ?? null;
  }

  /** Stores a setting; null removes it. */
  setSetting(key: string, value: string | null): void {
    if (typeof key !== 'string' || key === '') throw new ContractError('invalid-input', 'A setting needs a key.');
    if (value === null) this.st.deleteSetting.run(key);
    else if (typeof value === 'string') this.st.setSetting.run(key, value);
    else throw new ContractError('invalid-input', `Setting ${key}: the value must be a string or null.`);
  }
}
