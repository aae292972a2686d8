// The hub's page: login with a hub account, then "My alerts", an alert's detail (deep-linked from
// notification e-mails as /alerts/<report id>) and, for the imaging safety lead, the dashboard.
// Routing is the path (history API); each page change moves focus to the new page's heading so a
// keyboard or screen-reader user lands where the content is. A skip link leads past the header.
import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent, type MouseEvent, type ReactNode } from 'react';
import { ROLE_LABELS } from '../../../common/lifecycle.ts';
import { ErrorText } from '../../../renderer/ErrorText.tsx';
import { SubmitActions } from '../../../renderer/Layout.tsx';
import { AlertPage } from './AlertPage.tsx';
import { AlertsPage } from './AlertsPage.tsx';
import { followEvents, HubApi, logIn, savedSession, saveSession, type LiveState, type Session } from './api.ts';
import { DashboardPage } from './DashboardPage.tsx';

export type Route = { page: 'alerts' } | { page: 'alert'; reportId: string } | { page: 'dashboard' };

export function routeOf(pathname: string): Route {
  const m = /^\/alerts\/([^/]+)\/?$/.exec(pathname);
  if (m) return { page: 'alert', reportId: decodeURIComponent(m[1]!) };
  if (pathname === '/dashboard') return { page: 'dashboard' };
  return { page: 'alerts' };
}

export const pathOf = (r: Route): string => (r.page === 'alert' ? `/alerts/${encodeURIComponent(r.reportId)}` : r.page === 'dashboard' ? '/dashboard' : '/');

/** What every page gets: the hub, where to go, and a counter that moves at each alert change pushed by the hub. */
export interface PageProps {
  api: HubApi;
  session: Session;
  go(r: Route): void;
  /** Changes whenever the hub announces an alert change (or the page should look again): pages refetch on it. */
  version: number;
  /** The hub refused the session: back to the login. */
  onUnauthorised(err: unknown): boolean;
}

/** A link inside the page: a real <a href> (Enter, middle-click, copy link all work), routed without a reload. */
export function PageLink({ to, go, children, className }: { to: Route; go(r: Route): void; children: ReactNode; className?: string }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    go(to);
  };
  return (
    <a href={pathOf(to)} onClick={onClick} className={className}>
      {children}
    </a>
  );
}

/** The page's heading: focused when the page opens unless a field is (tabIndex -1: reachable by script, not in the tab order). */
export function PageHeading({ children, focus = true }: { children: ReactNode; focus?: boolean }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (focus) ref.current?.focus();
  }, [focus]);
  return (
    <h1 ref={ref} tabIndex={-1} className="page-heading">
      {children}
    </h1>
  );
}

function LoginPage({ onSession, notice }: { onSession(s: Session): void; notice: string | null }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (username.trim() === '' || password === '') {
      setError('Enter your hub username and password.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onSession(await logIn(username.trim(), password));
    } catch (err) {
      setError(`Not logged in: ${(err as Error).message}`);
      setPassword('');
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" className="login-page">
      <PageHeading focus={false}>Failsafe alerts: log in</PageHeading>
      <p>Log in with your hub account to see the alerts sent to you and your team, and to acknowledge them.</p>
      {notice && <p className="info-text" role="status">{notice}</p>}
      <form onSubmit={(e) => void submit(e)} data-testid="login-form" noValidate>
        <div className="field">
          <label htmlFor="login-username">Username</label>
          <input id="login-username" name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} autoFocus />
        </div>
        <div className="field">
          <label htmlFor="login-password">Password</label>
          <input id="login-password" name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </div>
        <ErrorText error={error} />
        <SubmitActions busy={busy} label="Log in" busyLabel="Logging in…" />
      </form>
    </main>
  );
}

const LIVE_TEXT: Record<LiveState, string> = {
  connecting: 'Connecting for live updates…',
  live: 'Live: new alerts appear without reloading.',
  reconnecting: 'Live updates interrupted: reconnecting. The list is also checked every minute.',
};

/** How often the page looks again even with the stream up (a missed event must not leave an alert unseen for long). */
const POLL_MS = 60_000;

export function App() {
  const [session, setSession] = useState<Session | null>(() => savedSession());
  const [route, setRoute] = useState<Route>(() => routeOf(location.pathname));
  const [version, setVersion] = useState(0);
  const [live, setLive] = useState<LiveState>('connecting');
  const [notice, setNotice] = useState<string | null>(null);
  const api = useMemo(() => (session ? new HubApi(session.token) : null), [session]);

  const go = useCallback((r: Route) => {
    history.pushState(null, '', pathOf(r));
    setRoute(r);
  }, []);

  useEffect(() => {
    const onPop = () => setRoute(routeOf(location.pathname));
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);

  const end = useCallback((message: string | null) => {
    saveSession(null);
    setSession(null);
    setNotice(message);
  }, []);

  useEffect(() => {
    if (!api) return;
    const stop = followEvents(api, {
      onAlert: () => setVersion((v) => v + 1),
      onState: (s) => {
        setLive(s);
        // Back after a break: what changed meanwhile is fetched again.
        if (s === 'live') setVersion((v) => v + 1);
      },
      onSessionEnded: () => end('Your session has ended (logged out elsewhere, expired or closed by an administrator). Log in again.'),
    });
    const poll = setInterval(() => setVersion((v) => v + 1), POLL_MS);
    return () => {
      stop();
      clearInterval(poll);
    };
  }, [api, end]);

  useEffect(() => {
    document.title = session ? `${route.page === 'dashboard' ? 'Safety dashboard' : route.page === 'alert' ? 'Alert' : 'My alerts'} · Failsafe` : 'Log in · Failsafe';
  }, [route, session]);

  const onUnauthorised = useCallback((err: unknown): boolean => {
    const status = (err as { status?: unknown }).status;
    if (status !== 401) return false;
    end(`${(err as Error).message}`);
    return true;
  }, [end]);

  const skip = (
    <a className="skip-link" href="#main">
      Skip to main content
    </a>
  );
  if (!session || !api) {
    return (
      <>
        {skip}
        <LoginPage
          notice={notice ?? (route.page === 'alert' ? 'Log in to open the alert you were sent.' : null)}
          onSession={(s) => {
            saveSession(s);
            setNotice(null);
            setSession(s);
          }}
        />
      </>
    );
  }
  const isLead = session.permissions.includes('safety:dashboard');
  const props: PageProps = { api, session, go, version, onUnauthorised };
  return (
    <>
      {skip}
      <header className="hub-header">
        <p className="hub-title">Failsafe alerts</p>
        <nav aria-label="Pages">
          <ul>
            <li>
              <PageLink to={{ page: 'alerts' }} go={go} className={route.page === 'alerts' ? 'current' : undefined}>
                My alerts
              </PageLink>
            </li>
            {isLead && (
              <li>
                <PageLink to={{ page: 'dashboard' }} go={go} className={route.page === 'dashboard' ? 'current' : undefined}>
                  Safety dashboard
                </PageLink>
              </li>
            )}
          </ul>
        </nav>
        <p className="hub-user" data-testid="hub-user">
          Logged in as <strong>{session.user.name}</strong> ({ROLE_LABELS[session.user.role] ?? session.user.role})
        </p>
        <button
          type="button"
          onClick={() => {
            void api.logOut();
            end('You have logged out.');
          }}
        >
          Log out
        </button>
      </header>
      <p className={`live-state live-${live}`} role="status" data-testid="live-state" data-live={live}>
        {LIVE_TEXT[live]}
      </p>
      <main id="main">
        {route.page === 'alert' ? (
          <AlertPage key={route.reportId} reportId={route.reportId} {...props} />
        ) : route.page === 'dashboard' ? (
          isLead ? <DashboardPage {...props} /> : <p className="error-text">The safety dashboard is for the imaging safety lead.</p>
        ) : (
          <AlertsPage {...props} />
        )}
      </main>
    </>
  );
}
