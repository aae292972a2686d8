// Log in to the department's hub: the hub identity is the signer (name, role, registration come
// from it). The embedded hub of a single-user install lists its demo accounts to start at once.
import { useState, type FormEvent } from 'react';
import type { HubStatus } from '../../common/contract.ts';
import { ROLE_LABELS, Role } from '../../common/lifecycle.ts';
import { useClient } from '../data/client.ts';
import { missingMessage } from '../formErrors.ts';
import { useFormAction } from '../useFormAction.ts';
import { SubmitActions } from '../Layout.tsx';
import { ErrorText } from '../ErrorText.tsx';

export interface LoginScreenProps {
  status: HubStatus;
  onLoggedIn(status: HubStatus): void;
}

function roleLabel(role: string): string {
  const r = Role.safeParse(role);
  return r.success ? ROLE_LABELS[r.data] : role;
}

export function LoginScreen({ status, onLoggedIn }: LoginScreenProps) {
  const client = useClient();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const { busy, error, run } = useFormAction();

  const login = async (u: string, p: string) => {
    const missing = missingMessage([
      [u.trim() !== '', 'your user name'],
      [p !== '', 'your password'],
    ]);
    const done = await run(missing, () => client.api['hub:login']({ username: u.trim(), password: p }), 'Not logged in: ');
    if (done) onLoggedIn(done.value);
    else if (!missing) setPassword('');
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void login(username, password);
  };

  return (
    <div className="login">
      <form className="profile-form" data-testid="login-form" onSubmit={submit} aria-labelledby="login-title" noValidate>
        <h1 id="login-title">Log in to Failsafe</h1>
        <p>
          {status.embedded
            ? 'This workstation runs its own hub (single user). Log in with one of the demo accounts below.'
            : `Log in with your department account (hub ${status.url ?? 'not named'}).`}{' '}
          You sign reports as the person logged in: their name, role and registration are recorded with every signature.
        </p>
        <label htmlFor="login-username">User name</label>
        <input id="login-username" autoFocus value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="username" maxLength={64} spellCheck={false} />
        <label htmlFor="login-password">Password</label>
        <input id="login-password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" maxLength={1024} />
        <ErrorText error={error} />
        <SubmitActions busy={busy} label="Log in" busyLabel="Logging in…" />
      </form>
      {status.demoUsers.length > 0 && (
        <section className="demo-users" aria-labelledby="demo-title">
          <h2 id="demo-title">Demo accounts (password “demo”)</h2>
          <p className="muted">Only this embedded hub has them; a department hub has its own users.</p>
          <ul>
            {status.demoUsers.map((u) => (
              <li key={u.username}>
                <button type="button" disabled={busy} onClick={() => void login(u.username, u.password)} aria-label={`Log in as ${u.name}, ${roleLabel(u.role)} (${u.username})`}>
                  Log in as <strong>{u.name}</strong>
                </button>{' '}
                <span>{roleLabel(u.role)}</span> <span className="muted">· user name {u.username}</span>
              </li>
            ))}
          </ul>
        </section>
      )}
      <p className="muted">Hub: {status.url ?? 'unknown'} · {status.online ? 'reachable' : 'not reached yet'}</p>
    </div>
  );
}
