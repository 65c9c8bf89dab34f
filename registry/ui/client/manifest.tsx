// One manifest: for an index its platforms (each a link to that image); for an image its config
// (env, cmd, entrypoint, labels, history with the Dockerfile line of each step) and its layers
// with compressed sizes. Below, the referrers (signatures, SBOMs, attestations) grouped by
// artifactType, and deleting the manifest (with confirmation) when granted.
import { useEffect, useState } from 'preact/hooks';
import { age, bytes } from './format.js';
import { imageInfo, platformName, type Descriptor, type ImageInfo } from './image-info.js';
import { href } from './router.js';
import { call, json, mayOnRepo, repoScope } from './session.js';
import { mediaLabel } from './tags.js';
import { Confirm, CopyButton, ErrorLine } from './widgets.js';

export function Manifest(props: { repo: string; reference: string }) {
  const { repo, reference } = props;
  const [info, setInfo] = useState<ImageInfo | undefined>(undefined);
  const [referrers, setReferrers] = useState<Descriptor[] | undefined>(undefined);
  const [canDelete, setCanDelete] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    let live = true;
    setInfo(undefined);
    setReferrers(undefined);
    setError(undefined);
    void mayOnRepo(repo, 'delete').then(
      (ok) => live && setCanDelete(ok),
      () => {},
    );
    imageInfo(repo, reference)
      .then(async (i) => {
        if (!live) return;
        setInfo(i);
        const index = await json<{ manifests: Descriptor[] }>(
          `/v2/${repo}/referrers/${i.digest}`,
          repoScope(repo),
        );
        if (live) setReferrers(index.manifests);
      })
      .catch((err: unknown) => live && setError(err));
    return () => {
      live = false;
    };
  }, [repo, reference]);
  const remove = async (): Promise<void> => {
    setConfirm(false);
    try {
      await call(`/v2/${repo}/manifests/${info!.digest}`, repoScope(repo), { method: 'DELETE' });
      location.hash = href({ page: 'tags', repo });
    } catch (err) {
      setError(err);
    }
  };
  const host = location.host;
  return (
    <main class="manifest">
      <div class="toolbar">
        <h1>
          <a href="#/">Repositories</a> / <a href={href({ page: 'tags', repo })}>{repo}</a> /{' '}
          {reference.startsWith('sha256:') ? reference.slice(0, 19) : reference}
        </h1>
      </div>
      <ErrorLine error={error} />
      {info && (
        <>
          <dl class="facts">
            <dt>Digest</dt>
            <dd>
              <code data-digest={info.digest}>{info.digest}</code>
            </dd>
            <dt>Media type</dt>
            <dd>
              {info.mediaType} ({mediaLabel(info.mediaType)})
            </dd>
            <dt>Size</dt>
            <dd data-size={info.size}>{bytes(info.size)}</dd>
            {info.config?.created && (
              <>
                <dt>Created</dt>
                <dd>
                  {info.config.created} ({age(info.config.created)})
                </dd>
              </>
            )}
            <dt>Pull</dt>
            <dd class="rowactions">
              <CopyButton label="docker pull" text={`docker pull ${host}/${repo}@${info.digest}`} />
              <CopyButton label="tspull" text={`tspull ${host}/${repo}@${info.digest}`} />
              {canDelete && (
                <button type="button" class="danger" onClick={() => setConfirm(true)}>
                  Delete manifest
                </button>
              )}
            </dd>
          </dl>
          {info.isIndex ? <Platforms repo={repo} info={info} /> : <Image info={info} />}
          <Referrers repo={repo} referrers={referrers} />
        </>
      )}
      {!info && !error && <p class="loading">Loading…</p>}
      {confirm && info && (
        <Confirm
          message={
            <>
              Delete the manifest <code>{info.digest}</code> of <b>{repo}</b> and every tag that
              points at it?
            </>
          }
          action="Delete manifest"
          onConfirm={() => void remove()}
          onCancel={() => setConfirm(false)}
        />
      )}
    </main>
  );
}

function Platforms(props: { repo: string; info: ImageInfo }) {
  const list = props.info.manifest.manifests ?? [];
  const [images, setImages] = useState<Record<string, ImageInfo>>({});
  useEffect(() => {
    for (const d of list)
      imageInfo(props.repo, d.digest).then(
        (i) => setImages((m) => ({ ...m, [d.digest]: i })),
        () => {},
      );
  }, [props.info]);
  return (
    <section>
      <h2>Platforms ({list.length})</h2>
      <table class="list platforms-table">
        <thead>
          <tr>
            <th>Platform</th>
            <th>Digest</th>
            <th class="num">Size</th>
            <th class="wide">Created</th>
          </tr>
        </thead>
        <tbody>
          {list.map((d) => (
            <tr key={d.digest} data-platform={platformName(d.platform)}>
              <td>
                <a href={href({ page: 'manifest', repo: props.repo, reference: d.digest })}>
                  {platformName(d.platform)}
                </a>
              </td>
              <td>
                <code>{d.digest}</code>
              </td>
              <td class="num" data-size={images[d.digest]?.size}>
                {bytes(images[d.digest]?.size)}
              </td>
              <td class="wide">{age(images[d.digest]?.config?.created)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Image(props: { info: ImageInfo }) {
  const cfg = props.info.config?.config ?? {};
  const layers = props.info.manifest.layers ?? [];
  const history = props.info.config?.history ?? [];
  // Non-empty history entries match the layers in order.
  let layer = 0;
  const steps = history.map((h) => ({ ...h, layer: h.empty_layer ? undefined : layer++ }));
  return (
    <>
      <section>
        <h2>Config</h2>
        <dl class="facts">
          <dt>Entrypoint</dt>
          <dd>
            <code>{cfg.Entrypoint ? JSON.stringify(cfg.Entrypoint) : '—'}</code>
          </dd>
          <dt>Cmd</dt>
          <dd>
            <code>{cfg.Cmd ? JSON.stringify(cfg.Cmd) : '—'}</code>
          </dd>
          <dt>Working dir</dt>
          <dd>{cfg.WorkingDir || '—'}</dd>
          <dt>User</dt>
          <dd>{cfg.User || '—'}</dd>
          <dt>Env</dt>
          <dd>
            <ul class="plain">
              {(cfg.Env ?? []).map((e) => (
                <li key={e}>
                  <code>{e}</code>
                </li>
              ))}
            </ul>
          </dd>
          <dt>Labels</dt>
          <dd>
            <ul class="plain">
              {Object.entries(cfg.Labels ?? {}).map(([k, v]) => (
                <li key={k}>
                  <code>
                    {k}={v}
                  </code>
                </li>
              ))}
            </ul>
          </dd>
        </dl>
      </section>
      <section>
        <h2>History</h2>
        <ol class="history">
          {steps.map((h, i) => (
            <li key={i} class={h.empty_layer ? 'empty' : ''}>
              <code>{h.created_by ?? h.comment ?? '(no command)'}</code>
              <span class="num">
                {h.layer === undefined ? 'no layer' : bytes(layers[h.layer]?.size)}
              </span>
            </li>
          ))}
        </ol>
      </section>
      <section>
        <h2>Layers ({layers.length})</h2>
        <table class="list layers">
          <thead>
            <tr>
              <th>#</th>
              <th>Digest</th>
              <th class="num">Compressed size</th>
            </tr>
          </thead>
          <tbody>
            {layers.map((l, i) => (
              <tr key={l.digest + i} data-layer-size={l.size}>
                <td>{i + 1}</td>
                <td>
                  <code>{l.digest}</code>
                </td>
                <td class="num">{bytes(l.size)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}

function Referrers(props: { repo: string; referrers: Descriptor[] | undefined }) {
  if (props.referrers === undefined) return null;
  const groups = new Map<string, Descriptor[]>();
  for (const d of props.referrers) {
    const t = d.artifactType ?? d.mediaType;
    groups.set(t, [...(groups.get(t) ?? []), d]);
  }
  return (
    <section class="referrers">
      <h2>Referrers ({props.referrers.length})</h2>
      {props.referrers.length === 0 && <p>No signature, SBOM or attestation refers to it.</p>}
      {[...groups].map(([type, list]) => (
        <div key={type} data-artifact-type={type}>
          <h3>{type}</h3>
          <ul class="plain">
            {list.map((d) => (
              <li key={d.digest}>
                <a href={href({ page: 'manifest', repo: props.repo, reference: d.digest })}>
                  <code>{d.digest}</code>
                </a>{' '}
                {bytes(d.size)}
              </li>
            ))}
          </ul>
        </div>
      ))}
    </section>
  );
}
