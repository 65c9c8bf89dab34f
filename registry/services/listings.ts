// Listings over the metadata store for the read-only handlers: the repository catalog, a
// repository's tags, and the referrers of a manifest. A page of n is read one entry longer, so
// the answer says whether a next page exists (the handlers then set the Link header).
import { RegistryError } from '../errors.js';
import type { Descriptor, MetadataStore, Page } from '../metadata/store.js';

export type { Page };

export interface Listing {
  /** At most `n` names, in lexical order, after `last`. */
  items: string[];
  /** More names follow the last one given. */
  more: boolean;
  /** The page asked for. */
  page: Page;
}

export class ListingService {
  constructor(private readonly meta: MetadataStore) {}

  /** Repository names (`GET /v2/_catalog`). */
  async repositories(page: Page & { n: number }): Promise<Listing> {
    return trimmed(await this.meta.listRepositories({ ...page, n: page.n + 1 }), page, page.n);
  }

  /**
   * The tags of `repo`; NAME_UNKNOWN when the repository does not exist, which is checked
   * before `readPage` parses the page parameters (as the reference registry answers).
   */
  async tags(repo: string, readPage: () => Page): Promise<Listing> {
    if (!(await this.meta.repositoryExists(repo)))
      throw new RegistryError('NAME_UNKNOWN', undefined, { name: repo });
    const page = readPage();
    if (page.n === undefined)
      return { items: await this.meta.listTags(repo, page), more: false, page };
    return trimmed(await this.meta.listTags(repo, { ...page, n: page.n + 1 }), page, page.n);
  }

  /** Descriptors of the manifests whose subject is `digest`, of one artifact type if given. */
  async referrers(repo: string, digest: string, artifactType?: string): Promise<Descriptor[]> {
    const all = await this.meta.referrers(repo, digest);
    return artifactType === undefined ? all : all.filter((d) => d.artifactType === artifactType);
  }
}

function trimmed(items: string[], page: Page, n: number): Listing {
  const more = items.length > n;
  if (more) items.length = n;
  return { items, more, page };
}
