// The signer profile: who signs, in what role, under which professional registration.
import { useState, type FormEvent } from 'react';
import { ROLE_LABELS, ROLES, type Role } from '../common/lifecycle.ts';
import { Profile } from '../common/report.ts';
import { useClient } from './data/client.ts';
import { formError } from './formErrors.ts';
import { useFormAction } from './useFormAction.ts';
import { SubmitActions } from './Layout.tsx';
import { ErrorText } from './ErrorText.tsx';

export interface ProfileSetupProps {
  initial: Profile | null;
  onSaved(profile: Profile): void;
  onCancel?(): void;
}

export function ProfileSetup({ initial, onSaved, onCancel }: ProfileSetupProps) {
  const client = useClient();
  const [name, setName] = useState(initial?.name ?? '');
  const [role, setRole] = useState<Role | ''>(initial?.role ?? '');
  const [registration, setRegistration] = useState(initial?.registration ?? '');
  const { busy, error, run } = useFormAction();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const parsed = Profile.safeParse({ name, role, registration });
    const problem = formError(
      [
        [name.trim() !== '', 'your name'],
        [role !== '', 'your role'],
        [registration.trim() !== '', 'your registration number'],
      ],
      parsed,
    );
    const done = await run(problem, () => client.api['profile:set']({ name: name.trim(), role: role as Role, registration: registration.trim() }), 'Could not save the profile: ');
    if (done) onSaved(done.value);
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
        {ROLES.map((r) => (
          <option key={r} value={r}>
            {ROLE_LABELS[r]}
          </option>
        ))}
      </select>
      <label htmlFor="profile-registration">Professional registration number (e.g. GMC or HCPC)</label>
      <input id="profile-registration" value={registration} onChange={(e) => setRegistration(e.target.value)} maxLength={64} required />
      <ErrorText error={error} />
      <SubmitActions busy={busy} label="Save profile" busyLabel="Saving…">
        {onCancel && (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        )}
      </SubmitActions>
    </form>
  );
}
