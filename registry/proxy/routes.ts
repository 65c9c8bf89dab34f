// Which upstream serves a repository of this registry: the longest configured prefix that
// contains it, or the root upstream unless the repository is under one of its `local` prefixes.
import type { UpstreamConfig } from './config.js';
import type { Upstream } from './upstream.js';

export interface ProxyRoute {
  config: UpstreamConfig;
  upstream: Upstream;
}

export interface ProxyTarget {
  route: ProxyRoute;
  /** This registry's repository name (`dockerhub/library/busybox`). */
  repo: string;
  /** The upstream's name for it (`library/busybox`). */
  remoteRepo: string;
}

export class ProxyRoutes {
  private readonly routes: ProxyRoute[];

  constructor(routes: ProxyRoute[]) {
    // longest prefix first; the root ('') last
    this.routes = [...routes].sort((a, b) => b.config.prefix.length - a.config.prefix.length);
  }

  get all(): readonly ProxyRoute[] {
    return this.routes;
  }

  /** The upstream `repo` is proxied from, or undefined for this registry's own repositories. */
  resolve(repo: string): ProxyTarget | undefined {
    for (const route of this.routes) {
      const { prefix, local } = route.config;
      if (prefix === '') {
        if (local.some((l) => under(repo, l))) return undefined;
        return { route, repo, remoteRepo: repo };
      }
      if (repo.startsWith(`${prefix}/`))
        return { route, repo, remoteRepo: repo.slice(prefix.length + 1) };
    }
    return undefined;
  }
}

function under(repo: string, prefix: string): boolean {
  return repo === prefix || repo.startsWith(`${prefix}/`);
}
