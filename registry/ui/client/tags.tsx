// A repository's tags: names come a page at a time from `/v2/<name>/tags/list?n=&last=` (the
// first page shows at once, the rest load behind it); the rows in view fetch their manifest and
// config (digest, media type, platforms, size, age). Copy `docker pull`/`tspull` commands;
// delete a tag (with confirmation) when the token grants `delete` on the repository.
import { useEffect, useRef, useState } from 'preact/hooks';
import { age, bytes, shortDigest } from './format.js';
import { forgetRepo, imageInfo, type ImageInfo } from './image-info.js';
import { href } from './router.js';
import { call, mayOnRepo, nextLast, repoScope } from './session.js';
import { VirtualList } from './virtual-list.js';
import { Confirm, CopyButton, ErrorLine, markPainted } from './widgets.js';

const PAGE = 1000;

export function Tags(props: { repo: string }) {
  const { repo } = props;
  const [tags, setTags] = useState<string[]>([]);
  const [complete, setComplete] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [infos, setInfos] = useState<Record<string, ImageInfo | Error>>({});
  const [canDelete, setCanDelete] = useState(false);
  const [confirm, setConfirm] = useState<string | undefined>(undefined);
  const [reload, setReload] = useState(0);
  const wanted = useRef(new Set<string>());

  useEffect(() => {
    let live = true;
    forgetRepo(repo);
    setTags([]);
    setInfos({});
    setComplete(false);
    setError(undefined);
    wanted.current.clear();
    void mayOnRepo(repo, 'delete').then(
      (ok) => live && setCanDelete(ok),
      () => {},
    );
    void (async () => {
      let last: string | undefined;
      let all: string[] = [];
      do {
        const q = new URLSearchParams({ n: String(PAGE) });
        if (last) q.set('last', last);
        const res = await call(`/v2/${repo}/tags/list?${q}`, repoScope(repo));
        const body = (await res.json()) as { tags: string[] | null };
        if (!live) return;
        all = all.concat(body.tags ?? []);
        setTags(all);
        if (all.length <= PAGE) markPainted();
        last = nextLast(res);
      } while (last);
      setComplete(true);
    })().catch((err: unknown) => live && setError(err));
    return () => {
      live = false;
    };
  }, [repo, reload]);

  const load = (first: number, last: number): void => {
    for (const tag of tags.slice(first, last)) {
      if (wanted.current.has(tag)) continue;
      wanted.current.add(tag);
      imageInfo(repo, tag).then(
        (info) => setInfos((m) => ({ ...m, [tag]: info })),
        (err: Error) => setInfos((m) => ({ ...m, [tag]: err })),
      );
    }
  };
  const host = location.host;
  const remove = async (tag: string): Promise<void> => {
    setConfirm(undefined);
    try {
      await call(`/v2/${repo}/manifests/${tag}`, repoScope(repo), { method: 'DELETE' });
      setReload((n) => n + 1);
    } catch (err) {
      setError(err);
    }
  };
  const open = (i: number): void => {
    location.hash = href({ page: 'manifest', repo, reference: tags[i]! });
  };
  return (
    <main>
      <div class="toolbar">
        <h1>
          <a href="#/">Repositories</a> / {repo}
        </h1>
        <span class="count" data-tag-count={tags.length}>
          {tags.length} tags{complete ? '' : '…'}
        </span>
      </div>
      <ErrorLine error={error} />
      <div class="vhead" aria-hidden="true">
        <span>Tag</span>
        <span>Digest</span>
        <span class="wide">Type</span>
        <span>Platforms</span>
        <span class="num">Size</span>
        <span class="wide">Age</span>
        <span />
      </div>
      <VirtualList
        count={tags.length}
        label={`Tags of ${repo}`}
        onOpen={open}
        onRange={load}
        row={(i) => {
          const tag = tags[i]!;
          const info = infos[tag];
          const ok = info && !(info instanceof Error) ? info : undefined;
          return (
            <div class="tagrow" data-tag={tag} data-digest={ok?.digest} data-size={ok?.size}>
              <a href={href({ page: 'manifest', repo, reference: tag })} tabIndex={-1}>
                {tag}
              </a>
              <code title={ok?.digest}>{shortDigest(ok?.digest)}</code>
              <span class="wide mt">{ok ? mediaLabel(ok.mediaType) : ''}</span>
              <span class="platforms">{ok?.platforms.join(', ')}</span>
              <span class="num">{ok ? bytes(ok.size) : ''}</span>
              <span class="wide">{ok ? age(ok.config?.created) : ''}</span>
              <span class="rowactions">
                <CopyButton label="docker pull" text={`docker pull ${host}/${repo}:${tag}`} />
                <CopyButton label="tspull" text={`tspull ${host}/${repo}:${tag}`} />
                {canDelete && (
                  <button
                    type="button"
                    class="danger"
                    aria-label={`Delete tag ${tag}`}
                    onClick={() => setConfirm(tag)}
                  >
                    Delete
                  </button>
                )}
              </span>
              {info instanceof Error && <span class="error">{info.message}</span>}
            </div>
          );
        }}
      />
      {confirm !== undefined && (
        <Confirm
          message={
            <>
              Delete the tag{' '}
              <b>
                {repo}:{confirm}
              </b>
              ? The image stays while other tags or digests refer to it.
            </>
          }
          action="Delete tag"
          onConfirm={() => void remove(confirm)}
          onCancel={() => setConfirm(undefined)}
        />
      )}
    </main>
  );
}

export function mediaLabel(mt: string): string {
  if (mt.includes('index') || mt.includes('manifest.list')) return 'index';
  if (mt.includes('docker')) return 'docker v2';
  return 'oci manifest';
}
