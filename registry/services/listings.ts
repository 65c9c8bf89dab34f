// Listings over the metadata store for the read-only handlers: the repository catalog, a
// repository's tags, and the referrers of a manifest. A page of n is read one entry longer, so
// the answer says whether a next page exists (the handlers then set the Link header).
import { RegistryError } from '../errors.js';
import type { Descriptor, MetadataStore, Page } from '../metadata/store.js';

export interface Listing {
  /** At most `n` names, in lexical order, after `last`. */
  items: string[];
  /** More names follow the last one given. */
  more: boolean;
}

export class ListingService {
  constructor(private readonly meta: MetadataStore) {}

  /** Repository names (`GET /v2/_catalog`). */
  async repositories(page: Page & { n: number }): Promise<Listing> {
    return trimmed(await this.meta.listRepositories({ ...page, n: page.n + 1 }), page.n);
  }

  /** The tags of `repo`; NAME_UNKNOWN when the repository does not exist. */
  async tags(repo: string, page: Page): Promise<Listing> {
    if (!(await this.meta.repositoryExists(repo)))
      throw new RegistryError('NAME_UNKNOWN', undefined, { name: repo });
    if (page.n === undefined) return { items: await this.meta.listTags(repo, page), more: false };
    return trimmed(await this.meta.listTags(repo, { ...page, n: page.n + 1 }), page.n);
  }

  /** Descriptors of the manifests whose subject is `digest`, of one artifact type if given. */
  async referrers(repo: string, digest: string, artifactType?: string): Promise<Descriptor[]> {
    const all = await this.meta.referrers(repo, digest);
    return artifactType === undefined ? all : all.filter((d) => d.artifactType === artifactType);
  }
}

function trimmed(items: string[], n: number): Listing {
  const more = items.length > n;
  if (more) items.length = n;
  return { items, more };
}
