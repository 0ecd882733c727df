import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, Me, signIn, signOut, whenSignedOut } from './api';
import { ProblemView, TextField } from './ui';
import { Overview } from './pages/overview';
import { SettingsPage } from './pages/settings';
import { UsersPage } from './pages/users';
import { GroupsPage } from './pages/groups';
import { TokensPage } from './pages/tokens';
import { IdentityProvidersPage } from './pages/identity-providers';
import { ConnectPage, CmjPage, KeysPage } from './pages/operations';
import { AuditPage } from './pages/audit';
import { ExplainPage } from './pages/explain';

interface Page {
  path: string;
  label: string;
  adminOnly: boolean;
  render: (me: Me) => preact.JSX.Element;
}

const PAGES: Page[] = [
  { path: 'overview', label: 'Overview', adminOnly: false, render: (me) => <Overview me={me} /> },
  { path: 'settings', label: 'Settings', adminOnly: true, render: () => <SettingsPage /> },
  { path: 'users', label: 'Users', adminOnly: true, render: () => <UsersPage /> },
  { path: 'groups', label: 'Groups', adminOnly: true, render: () => <GroupsPage /> },
  { path: 'tokens', label: 'Tokens', adminOnly: false, render: () => <TokensPage /> },
  {
    path: 'identity-providers',
    label: 'Identity providers',
    adminOnly: true,
    render: () => <IdentityProvidersPage />,
  },
  { path: 'connect', label: 'Connect', adminOnly: true, render: () => <ConnectPage /> },
  { path: 'cmj', label: 'CMJ', adminOnly: true, render: () => <CmjPage /> },
  { path: 'audit', label: 'Audit log', adminOnly: true, render: () => <AuditPage /> },
  { path: 'keys', label: 'Keys', adminOnly: true, render: () => <KeysPage /> },
  { path: 'explain', label: 'Explain', adminOnly: true, render: () => <ExplainPage /> },
];

function currentPath(): string {
  return location.hash.replace(/^#\/?/, '') || 'overview';
}

function SignIn({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn(username, password));
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? new Error('The username or password is not right.')
          : err,
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      {/* submit shows its own failure on the form. */}
      <form onSubmit={(e) => void submit(e)} class="card" aria-labelledby="signin-title">
        <h1 id="signin-title">Warden console</h1>
        <p class="hint">Sign in with your Warden username and password.</p>
        <TextField
          label="Username"
          value={username}
          onInput={setUsername}
          autoComplete="username"
          required
        />
        <TextField
          label="Password"
          type="password"
          value={password}
          onInput={setPassword}
          autoComplete="current-password"
          required
        />
        <ProblemView error={error} />
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}

function Shell({ me }: { me: Me }) {
  const [path, setPath] = useState(currentPath());
  const heading = useRef<HTMLHeadingElement>(null);
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => {
    const changed = () => {
      setPath(currentPath());
      setMenuOpen(false);
      // Keyboard and screen-reader users land on the new page's heading.
      setTimeout(() => heading.current?.focus(), 0);
    };
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  const pages = PAGES.filter((p) => me.admin || !p.adminOnly);
  const page = pages.find((p) => p.path === path) ?? pages[0];
  return (
    <div class="shell">
      <a
        class="skip"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          heading.current?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Warden</span>
        <button
          type="button"
          class="menu"
          aria-expanded={menuOpen}
          aria-controls="nav"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          Menu
        </button>
        <span class="who">
          {me.username}
          {me.admin ? ' (administrator)' : ''}
        </span>
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <nav id="nav" aria-label="Console" class={menuOpen ? 'open' : ''}>
        <ul>
          {pages.map((p) => (
            <li key={p.path}>
              <a href={`#/${p.path}`} aria-current={p === page ? 'page' : undefined}>
                {p.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main">
        <h1 tabIndex={-1} ref={heading}>
          {page.label}
        </h1>
        {page.render(me)}
      </main>
    </div>
  );
}

function App() {
  const [me, setMe] = useState<Me | null>(null);
  useEffect(() => whenSignedOut(() => setMe(null)), []);
  return me ? <Shell me={me} /> : <SignIn onSignedIn={setMe} />;
}

const root = document.getElementById('app')!;
// The loading line is static HTML: the console replaces it, it does not hydrate it.
root.textContent = '';
render(<App />, root);
