// The signer profile: who signs, in what role, under which professional registration.
import { useState, type FormEvent } from 'react';
import { Profile, Role } from '../common/report.ts';
import type { Client } from './api.ts';
import { ErrorText } from './ErrorText.tsx';

export const ROLE_LABELS: Record<Role, string> = {
  radiologist: 'Radiologist',
  radiographer: 'Reporting radiographer',
  locum: 'Locum radiologist',
  trainee: 'Trainee',
  trainer: 'Trainer',
  referrer: 'Referrer (requesting clinician)',
  'safety-lead': 'Imaging safety lead / clinical director',
};

export interface ProfileSetupProps {
  client: Client;
  initial: Profile | null;
  onSaved(profile: Profile): void;
  onCancel?(): void;
}

export function ProfileSetup({ client, initial, onSaved, onCancel }: ProfileSetupProps) {
  const [name, setName] = useState(initial?.name ?? '');
  const [role, setRole] = useState<Role | ''>(initial?.role ?? '');
  const [registration, setRegistration] = useState(initial?.registration ?? '');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const parsed = Profile.safeParse({ name, role, registration });
    if (!parsed.success) {
      const missing = [name.trim() ? null : 'your name', role ? null : 'your role', registration.trim() ? null : 'your registration number'].filter(Boolean);
      setError(missing.length ? `Please give ${missing.join(', ')}.` : parsed.error.issues.map((i) => i.message).join('; '));
      return;
    }
    setBusy(true);
    const r = await client.api['profile:set'](parsed.data);
    setBusy(false);
    if (!r.ok) {
      setError(`Could not save the profile: ${r.error.message}`);
      return;
    }
    onSaved(r.value);
  };

  return (
    <form className="profile-form" onSubmit={(e) => void submit(e)} aria-labelledby="profile-title" noValidate>
      <h1 id="profile-title">{initial ? 'Your signer profile' : 'Welcome to Failsafe'}</h1>
      <p>
        Reports are signed electronically with your name, role and professional registration number. These are recorded with every signature and in the
        audit trail.
      </p>
      <label htmlFor="profile-name">Full name</label>
      <input id="profile-name" autoFocus value={name} onChange={(e) => setName(e.target.value)} autoComplete="name" maxLength={200} required />
      <label htmlFor="profile-role">Role</label>
      <select id="profile-role" value={role} onChange={(e) => setRole(e.target.value as Role | '')} required>
        <option value="">Choose your role…</option>
        {Role.options.map((r) => (
          <option key={r} value={r}>
            {ROLE_LABELS[r]}
          </option>
        ))}
      </select>
      <label htmlFor="profile-registration">Professional registration number (e.g. GMC or HCPC)</label>
      <input id="profile-registration" value={registration} onChange={(e) => setRegistration(e.target.value)} maxLength={64} required />
      <ErrorText error={error} />
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save profile'}
        </button>
        {onCancel && (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
