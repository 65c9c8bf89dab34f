// Every LevelDB key the registry writes, built in one place, plus the schema version and its
// ordered migrations. '!' separates parts: it cannot occur in repository names, tags or digests.
//
//   schema                      -> "1"               schema version of everything below
//   n!<repo>                    -> ""                the repository exists (catalog)
//   t!<repo>!<tag>              -> <digest>          a tag
//   m!<repo>!<digest>           -> ManifestRecord    a manifest held by the repository
//   r!<repo>!<subject>!<digest> -> Descriptor        a referrer of <subject> in the repository
//   l!<repo>!<digest>           -> ""                a blob linked into the repository
//   u!<uuid>                    -> UploadSession     an upload session (survives restarts)
//   h!<id>                      -> ReferenceHold     digests a manifest write is about to reference
//   g!<digest>                  -> ""                GC is about to delete this digest (condemned)
import type { Level } from 'level';

export const SCHEMA_VERSION = 1;
export const SCHEMA_KEY = 'schema';
/** Upper bound of a prefix range: above every ASCII key part. */
export const END = '\xff';

export const keys = {
  repo: (repo: string) => `n!${repo}`,
  repoPrefix: () => 'n!',
  tag: (repo: string, tag: string) => `t!${repo}!${tag}`,
  tagPrefix: (repo: string) => `t!${repo}!`,
  manifest: (repo: string, digest: string) => `m!${repo}!${digest}`,
  manifestPrefix: (repo?: string) => (repo === undefined ? 'm!' : `m!${repo}!`),
  referrer: (repo: string, subject: string, digest: string) => `r!${repo}!${subject}!${digest}`,
  referrerPrefix: (repo: string, subject: string) => `r!${repo}!${subject}!`,
  link: (repo: string, digest: string) => `l!${repo}!${digest}`,
  linkPrefix: (repo?: string) => (repo === undefined ? 'l!' : `l!${repo}!`),
  session: (uuid: string) => `u!${uuid}`,
  sessionPrefix: () => 'u!',
  hold: (id: string) => `h!${id}`,
  holdPrefix: () => 'h!',
  condemned: (digest: string) => `g!${digest}`,
  condemnedPrefix: () => 'g!',
};

/** Splits `x!<repo>!<last>` into repo and last part (the repo may contain no '!'). */
export function splitRepoKey(key: string): { repo: string; last: string } {
  const first = key.indexOf('!');
  const lastSep = key.lastIndexOf('!');
  return { repo: key.slice(first + 1, lastSep), last: key.slice(lastSep + 1) };
}

type Db = Level<string, string>;

/** Ordered migrations: MIGRATIONS[i] upgrades a store from version i to i + 1. */
export const MIGRATIONS: ReadonlyArray<(db: Db) => Promise<void>> = [
  async () => {
    // 0 -> 1: a fresh store; nothing to convert.
  },
];
