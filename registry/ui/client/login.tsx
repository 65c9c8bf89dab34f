// The sign-in form: user and password go to the token service once, then are forgotten.
import { useState } from 'preact/hooks';
import { signIn } from './session.js';
import { ErrorLine } from './widgets.js';

export function Login(props: { notice?: string }) {
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    setBusy(true);
    setError(undefined);
    try {
      await signIn(String(data.get('user')), String(data.get('password')));
    } catch (err) {
      setError(err);
      (form.elements.namedItem('password') as HTMLInputElement).value = '';
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <h1>tsregistry</h1>
      <form onSubmit={submit} aria-label="Sign in">
        {props.notice && <p class="notice">{props.notice}</p>}
        <label>
          User
          <input name="user" autocomplete="username" required autofocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <ErrorLine error={error} />
      </form>
    </main>
  );
}
