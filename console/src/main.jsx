// The console's shell: sign-in, the header (navigation, presence, sign-out) and the screens.

import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { onSession, resume, signOut, put } from './api.js';
import * as live from './live.js';
import { forget } from './data.js';
import { usePath, Link, navigate } from './router.jsx';
import { SignIn } from './screens/SignIn.jsx';
import { Inbox } from './screens/Inbox.jsx';
import { Conversation } from './screens/Conversation.jsx';
import { Dashboard } from './screens/Dashboard.jsx';
import './style.css';

const isManager = (user) => user && (user.role === 'manager' || user.role === 'admin');

function Presence() {
  const [status, setStatus] = useState(sessionStorage.getItem('leadline.presence') || '');
  const [error, setError] = useState('');
  const change = async (event) => {
    const next = event.currentTarget.value;
    try {
      await put('/v1/me/presence', { status: next });
      sessionStorage.setItem('leadline.presence', next);
      setStatus(next);
      setError('');
    } catch (e) {
      setError(e.message);
    }
  };
  return (
    <label class={`presence presence-${status || 'unknown'}`}>
      <span class="visually-hidden">My status</span>
      <select aria-label="My status" value={status} onChange={change} aria-describedby={error ? 'presence-error' : undefined}>
        {!status && <option value="">Set status…</option>}
        <option value="online">● Online</option>
        <option value="away">◐ Away</option>
        <option value="offline">○ Offline</option>
      </select>
      {error && <span id="presence-error" role="alert" class="error-inline">{error}</span>}
    </label>
  );
}

function Header({ user }) {
  const path = usePath();
  const [live_, setLive] = useState(live.connected());
  useEffect(() => live.subscribe((e) => e.type === 'resync' && setLive(e.live)), []);
  const out = async () => {
    live.stop();
    await signOut();
    forget();
    sessionStorage.removeItem('leadline.presence');
    navigate('/', { replace: true });
  };
  return (
    <header class="top">
      <Link to="/" class="brand">Leadline</Link>
      <nav aria-label="Main">
        <Link to="/" aria-current={path === '/' || path.startsWith('/c/') ? 'page' : undefined}>Inbox</Link>
        {isManager(user) && (
          <Link to="/dashboard" aria-current={path === '/dashboard' ? 'page' : undefined}>Dashboard</Link>
        )}
      </nav>
      <span class={`live-dot ${live_ ? 'on' : ''}`} title={live_ ? 'Live updates' : 'Polling for updates'}>
        <span class="visually-hidden">{live_ ? 'Live updates on' : 'Polling for updates'}</span>
      </span>
      <Presence />
      <span class="who" title={user.email}>{user.name || user.email}</span>
      <button type="button" class="ghost" onClick={out}>Sign out</button>
    </header>
  );
}

function Screens({ user }) {
  const path = usePath();
  if (path === '/dashboard' && isManager(user)) return <Dashboard />;
  const open = path.startsWith('/c/') ? decodeURIComponent(path.slice(3)) : null;
  return (
    <div class={`work ${open ? 'has-open' : ''}`}>
      <Inbox selected={open} manager={isManager(user)} />
      {open ? (
        <Conversation key={open} id={open} user={user} manager={isManager(user)} />
      ) : (
        <section class="empty-pane" aria-label="Conversation">
          <p>Choose a conversation.</p>
        </section>
      )}
    </div>
  );
}

function App() {
  const [user, setUser] = useState(undefined); // undefined: resuming; null: signed out
  useEffect(() => {
    const off = onSession((u) => setUser(u));
    resume().then((u) => setUser(u));
    return off;
  }, []);
  useEffect(() => {
    if (user) live.start();
    else if (user === null) live.stop();
  }, [user]);
  if (user === undefined) return <p class="loading" role="status">Loading…</p>;
  if (!user) return <SignIn />;
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <Header user={user} />
      <main id="main" tabIndex={-1}>
        <Screens user={user} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app'));
