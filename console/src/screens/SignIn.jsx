// Sign in with the tenant id, email and password of a user.

import { useState } from 'preact/hooks';
import { signIn, lastTenant } from '../api.js';

export function SignIn() {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError('');
    try {
      await signIn(form.get('tenant'), form.get('email'), form.get('password'));
    } catch (e) {
      setError(e.status === 401 || e.status === 404 ? 'Wrong tenant, email or password.' : e.message);
      setBusy(false);
    }
  };
  return (
    <main class="signin" id="main">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Leadline console</h1>
        <p class="muted">Sign in to answer your customers.</p>
        <label for="tenant">Tenant id</label>
        <input id="tenant" name="tenant" required autoComplete="organization" value={lastTenant()} placeholder="tn_…" />
        <label for="email">Email</label>
        <input id="email" name="email" type="email" required autoComplete="username" />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" required autoComplete="current-password" />
        {error && <p role="alert" class="error">{error}</p>}
        <button type="submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </main>
  );
}
