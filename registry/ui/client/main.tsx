// The console's entry: the header (navigation, who is signed in, sign out) and the page the
// hash route names. Signed out, only the sign-in form shows (unless the registry runs without
// authentication: then there is nothing to sign in to).
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Gc, MirrorCache, Storage } from './admin-ops.js';
import { Users } from './admin-users.js';
import { Login } from './login.js';
import { Manifest } from './manifest.js';
import { Repositories } from './repositories.js';
import { useRoute, type Route } from './router.js';
import {
  currentSession,
  detectOpenRegistry,
  onSessionChange,
  signOut,
  type Session,
} from './session.js';
import { Tags } from './tags.js';

function App() {
  const [session, setSession] = useState<Session | undefined>(currentSession());
  const [wasSignedIn, setWasSignedIn] = useState(false);
  const [probing, setProbing] = useState(session === undefined);
  const route = useRoute();
  useEffect(() => void detectOpenRegistry().finally(() => setProbing(false)), []);
  useEffect(
    () =>
      onSessionChange(() => {
        const s = currentSession();
        if (!s && session) setWasSignedIn(true);
        setSession(s);
      }),
    [session],
  );
  if (!session && probing) return <p class="loading">Loading the console…</p>;
  if (!session)
    return <Login notice={wasSignedIn ? 'Signed out. Sign in again to continue.' : undefined} />;
  const admin = (name: string): boolean => session.admin.includes(name);
  const nav: Array<[string, string, boolean]> = [
    ['#/', 'Repositories', true],
    ['#/admin/users', 'Users', admin('users')],
    ['#/admin/storage', 'Storage', admin('gc')],
    ['#/admin/gc', 'GC', admin('gc')],
    ['#/admin/cache', 'Mirror cache', admin('gc')],
  ];
  return (
    <>
      <header class="top">
        <a class="brand" href="#/">
          tsregistry
        </a>
        <nav aria-label="Main">
          {nav
            .filter(([, , shown]) => shown)
            .map(([to, label]) => (
              <a key={to} href={to} aria-current={isCurrent(route, to) ? 'page' : undefined}>
                {label}
              </a>
            ))}
        </nav>
        <span class="who">
          <span data-user={session.user}>
            {session.open ? 'no authentication configured' : session.user}
          </span>
          {!session.open && (
            <button type="button" onClick={signOut}>
              Sign out
            </button>
          )}
        </span>
      </header>
      <Page route={route} />
    </>
  );
}

function isCurrent(route: Route, to: string): boolean {
  if (to === '#/') return route.page !== 'admin';
  return route.page === 'admin' && to === `#/admin/${route.section}`;
}

function Page(props: { route: Route }) {
  const r = props.route;
  switch (r.page) {
    case 'repositories':
      return <Repositories />;
    case 'tags':
      return <Tags key={r.repo} repo={r.repo} />;
    case 'manifest':
      return <Manifest key={r.repo + r.reference} repo={r.repo} reference={r.reference} />;
    case 'admin':
      if (r.section === 'users') return <Users />;
      if (r.section === 'storage') return <Storage />;
      if (r.section === 'gc') return <Gc />;
      if (r.section === 'cache') return <MirrorCache />;
      return <p class="error">No such page.</p>;
  }
}

const root = document.getElementById('app')!;
root.textContent = '';
render(<App />, root);
