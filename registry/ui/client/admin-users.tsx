// Admin: users and their grants (`/admin/users`, the `registry:users:*` grant): add, remove,
// reset a password, edit grants (one per line, e.g. `repository:team-a/*:pull,push`).
import { useEffect, useState } from 'preact/hooks';
import { call, json } from './session.js';
import { Confirm, ErrorLine } from './widgets.js';

const SCOPE = 'registry:users:*';

interface User {
  name: string;
  access: string[];
}

const jsonBody = (value: unknown): RequestInit => ({
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify(value),
});

const lines = (text: string): string[] =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

export function Users() {
  const [users, setUsers] = useState<User[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [status, setStatus] = useState('');
  const [removing, setRemoving] = useState<string | undefined>(undefined);
  const refresh = (): void =>
    void json<{ users: User[] }>('/admin/users', SCOPE).then(
      (b) => setUsers(b.users),
      (err: unknown) => setError(err),
    );
  useEffect(refresh, []);
  const act = async (what: string, run: () => Promise<unknown>): Promise<void> => {
    setError(undefined);
    try {
      await run();
      setStatus(what);
      refresh();
    } catch (err) {
      setError(err);
    }
  };
  const add = (e: Event): void => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const d = new FormData(form);
    const name = String(d.get('name'));
    void act(`Added ${name}.`, async () => {
      await call('/admin/users', SCOPE, {
        method: 'POST',
        ...jsonBody({
          name,
          password: String(d.get('password')),
          access: lines(String(d.get('access'))),
        }),
      });
      form.reset();
    });
  };
  return (
    <main>
      <h1>Users</h1>
      <ErrorLine error={error} />
      {status && (
        <p class="notice" role="status">
          {status}
        </p>
      )}
      <div class="cards">
        {(users ?? []).map((u) => (
          <UserCard key={u.name} user={u} act={act} onRemove={() => setRemoving(u.name)} />
        ))}
      </div>
      <form class="card" onSubmit={add} aria-label="Add a user">
        <h2>Add a user</h2>
        <label>
          Name
          <input name="name" required pattern="[A-Za-z0-9][A-Za-z0-9._@-]{0,63}" />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="new-password" required />
        </label>
        <label>
          Grants (one per line)
          <textarea name="access" rows={3} placeholder="repository:team-a/*:pull,push" />
        </label>
        <button type="submit">Add user</button>
      </form>
      {removing && (
        <Confirm
          message={
            <>
              Remove the user <b>{removing}</b>? Their sessions stop working.
            </>
          }
          action="Remove user"
          onCancel={() => setRemoving(undefined)}
          onConfirm={() => {
            const name = removing;
            setRemoving(undefined);
            void act(`Removed ${name}.`, () =>
              call(`/admin/users/${encodeURIComponent(name)}`, SCOPE, { method: 'DELETE' }),
            );
          }}
        />
      )}
    </main>
  );
}

function UserCard(props: {
  user: User;
  act: (what: string, run: () => Promise<unknown>) => Promise<void>;
  onRemove: () => void;
}) {
  const { user, act } = props;
  const base = `/admin/users/${encodeURIComponent(user.name)}`;
  const [grants, setGrants] = useState(user.access.join('\n'));
  const [password, setPassword] = useState('');
  return (
    <section class="card" data-user={user.name}>
      <h2>{user.name}</h2>
      <label>
        Grants
        <textarea
          rows={Math.max(2, user.access.length)}
          value={grants}
          onInput={(e) => setGrants((e.currentTarget as HTMLTextAreaElement).value)}
        />
      </label>
      <button
        type="button"
        onClick={() =>
          void act(`Saved the grants of ${user.name}.`, () =>
            call(`${base}/access`, 'registry:users:*', {
              method: 'PUT',
              ...jsonBody({ access: lines(grants) }),
            }),
          )
        }
      >
        Save grants
      </button>
      <label>
        New password
        <input
          type="password"
          autocomplete="new-password"
          value={password}
          onInput={(e) => setPassword((e.currentTarget as HTMLInputElement).value)}
        />
      </label>
      <div class="actions">
        <button
          type="button"
          disabled={!password}
          onClick={() =>
            void act(`Reset the password of ${user.name}.`, async () => {
              await call(`${base}/password`, 'registry:users:*', {
                method: 'PUT',
                ...jsonBody({ password }),
              });
              setPassword('');
            })
          }
        >
          Reset password
        </button>
        <button type="button" class="danger" onClick={props.onRemove}>
          Remove
        </button>
      </div>
    </section>
  );
}
