// Hash routes (`#/`, `#/r/<repo>`, `#/r/<repo>/m/<reference>`, `#/admin/<page>`): the server
// serves one page, and a link or a reload keeps the view.
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'repositories' }
  | { page: 'tags'; repo: string }
  | { page: 'manifest'; repo: string; reference: string }
  | { page: 'admin'; section: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '');
  const m = /^\/r\/(.+?)\/m\/([^/]+)$/.exec(path);
  if (m) return { page: 'manifest', repo: m[1]!, reference: decodeURIComponent(m[2]!) };
  const t = /^\/r\/(.+)$/.exec(path);
  if (t) return { page: 'tags', repo: t[1]! };
  const a = /^\/admin\/([a-z]+)$/.exec(path);
  if (a) return { page: 'admin', section: a[1]! };
  return { page: 'repositories' };
}

export function href(route: Route): string {
  switch (route.page) {
    case 'repositories':
      return '#/';
    case 'tags':
      return `#/r/${route.repo}`;
    case 'manifest':
      return `#/r/${route.repo}/m/${encodeURIComponent(route.reference)}`;
    case 'admin':
      return `#/admin/${route.section}`;
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = (): void => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
