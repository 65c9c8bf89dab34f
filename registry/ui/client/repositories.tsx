// The repositories page: a page of 50 names at a time (search by substring, Next/Previous),
// each with its tag count, size and last push, from `/ui/api/repositories` (the catalog grant).
// Without that grant the user can still open a repository by name.
import { useEffect, useState } from 'preact/hooks';
import { age, bytes } from './format.js';
import { href } from './router.js';
import { ApiError, json } from './session.js';
import { ErrorLine, markPainted } from './widgets.js';

interface RepoRow {
  name: string;
  bytes: number;
  sharedBytes: number;
  tags: number;
  lastPush?: string;
}

const PAGE = 50;

export function Repositories() {
  const [query, setQuery] = useState('');
  const [pages, setPages] = useState<Array<string | undefined>>([undefined]);
  const [rows, setRows] = useState<RepoRow[] | undefined>(undefined);
  const [next, setNext] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const last = pages[pages.length - 1];
  useEffect(() => {
    let live = true;
    const t = setTimeout(
      () => {
        const params = new URLSearchParams({ n: String(PAGE) });
        if (last) params.set('last', last);
        if (query) params.set('q', query);
        json<{ repositories: RepoRow[]; next?: string }>(
          `/ui/api/repositories?${params}`,
          'registry:catalog:*',
        ).then(
          (body) => {
            if (!live) return;
            setRows(body.repositories);
            setNext(body.next);
            setError(undefined);
            markPainted();
          },
          (err: unknown) => live && (setError(err), setRows([])),
        );
      },
      query ? 200 : 0,
    );
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [query, last]);
  const denied = error instanceof ApiError && (error.status === 401 || error.status === 403);
  return (
    <main>
      <div class="toolbar">
        <h1>Repositories</h1>
        <input
          type="search"
          placeholder="Search repositories"
          aria-label="Search repositories"
          value={query}
          onInput={(e) => {
            setQuery((e.currentTarget as HTMLInputElement).value);
            setPages([undefined]);
          }}
        />
        <nav class="pager" aria-label="Pages">
          <button
            type="button"
            disabled={pages.length < 2}
            onClick={() => setPages(pages.slice(0, -1))}
          >
            Previous
          </button>
          <span>Page {pages.length}</span>
          <button type="button" disabled={!next} onClick={() => setPages([...pages, next])}>
            Next
          </button>
        </nav>
      </div>
      {denied ? <OpenByName /> : <ErrorLine error={error} />}
      <table class="list repos" aria-busy={rows === undefined}>
        <thead>
          <tr>
            <th>Name</th>
            <th class="num">Tags</th>
            <th class="num">Size</th>
            <th class="wide">Last push</th>
          </tr>
        </thead>
        <tbody>
          {(rows ?? []).map((r) => (
            <tr key={r.name} data-repo={r.name}>
              <td>
                <a href={href({ page: 'tags', repo: r.name })}>{r.name}</a>
              </td>
              <td class="num">{r.tags}</td>
              <td class="num" data-bytes={r.bytes}>
                {bytes(r.bytes)}
              </td>
              <td class="wide">{age(r.lastPush)}</td>
            </tr>
          ))}
          {rows?.length === 0 && !error && (
            <tr>
              <td colSpan={4}>{query ? 'No repository matches.' : 'No repositories yet.'}</td>
            </tr>
          )}
        </tbody>
      </table>
    </main>
  );
}

function OpenByName() {
  const [name, setName] = useState('');
  return (
    <form
      class="notice"
      onSubmit={(e) => {
        e.preventDefault();
        location.hash = href({ page: 'tags', repo: name.trim() });
      }}
    >
      <p>Your account may not list the catalog. Open a repository you have access to by name:</p>
      <input
        aria-label="Repository name"
        placeholder="team-a/app"
        value={name}
        onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)}
      />
      <button type="submit">Open</button>
    </form>
  );
}
