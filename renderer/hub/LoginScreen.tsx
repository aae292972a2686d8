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

/**
 * The installed app's first start: its embedded hub has no account (no demo accounts outside demo
 * mode), so the first user creates theirs, then is logged in with it. The hub allows this only
 * while it has no account.
 */
function FirstAccount({ onLoggedIn }: { onLoggedIn(status: HubStatus): void }) {
  const client = useClient();
  const [f, setF] = useState({ name: '', username: '', role: 'radiologist' as Role, registration: '', password: '', again: '' });
  const { busy, error, run } = useFormAction();
  const set = (k: keyof typeof f) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const missing = missingMessage([
      [f.name.trim() !== '', 'your name'],
      [f.username.trim() !== '', 'a user name'],
      [f.registration.trim() !== '', 'your professional registration'],
      [f.password.length >= 10, 'a password of at least 10 characters'],
      [f.password === f.again, 'the same password twice'],
    ]);
    const done = await run(missing, () => client.api['hub:createFirstUser']({ name: f.name.trim(), username: f.username.trim(), role: f.role, registration: f.registration.trim(), password: f.password }), 'Account not created: ');
    if (done) onLoggedIn(done.value);
  };
  return (
    <div className="login">
      <form className="profile-form" data-testid="first-account-form" onSubmit={(e) => void submit(e)} aria-labelledby="first-title" noValidate>
        <h1 id="first-title">Create your account</h1>
        <p>
          This workstation runs its own hub and has no account yet. Create yours: you sign reports as this person, so give your own name, role and
          professional registration. Further accounts are added by you later, not here.
        </p>
        <label htmlFor="first-name">Name (as it appears on reports)</label>
        <input id="first-name" autoFocus value={f.name} onChange={set('name')} maxLength={200} autoComplete="name" />
        <label htmlFor="first-role">Role</label>
        <select id="first-role" value={f.role} onChange={set('role')}>
          {Role.options.map((r) => (
            <option key={r} value={r}>
              {ROLE_LABELS[r]}
            </option>
          ))}
        </select>
        <label htmlFor="first-registration">Professional registration (e.g. GMC 1234567)</label>
        <input id="first-registration" value={f.registration} onChange={set('registration')} maxLength={100} />
        <label htmlFor="first-username">User name</label>
        <input id="first-username" value={f.username} onChange={set('username')} maxLength={64} autoComplete="username" spellCheck={false} />
        <label htmlFor="first-password">Password (at least 10 characters)</label>
        <input id="first-password" type="password" value={f.password} onChange={set('password')} maxLength={1024} autoComplete="new-password" />
        <label htmlFor="first-again">Password again</label>
        <input id="first-again" type="password" value={f.again} onChange={set('again')} maxLength={1024} autoComplete="new-password" />
        <ErrorText error={error} />
        <SubmitActions busy={busy} label="Create account and log in" busyLabel="Creating…" />
      </form>
    </div>
  );
}

export function LoginScreen({ status, onLoggedIn }: LoginScreenProps) {
  if (status.awaitingFirstUser) return <FirstAccount onLoggedIn={onLoggedIn} />;
  return <Login status={status} onLoggedIn={onLoggedIn} />;
}

function Login({ status, onLoggedIn }: LoginScreenProps) {
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
            ? status.demoUsers.length > 0
              ? 'This workstation runs its own hub (single user). Log in with one of the demo accounts below.'
              : 'This workstation runs its own hub (single user). Log in with your account.'
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
