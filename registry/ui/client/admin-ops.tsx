// Admin: storage use as bars per namespace and per repository (shared bytes drawn apart and
// counted once in the total), garbage collection (last runs, dry run, start), and the mirror
// cache of the proxy mode. All behind the `registry:gc:*` grant.
import { useEffect, useState } from 'preact/hooks';
import { age, bytes } from './format.js';
import { href } from './router.js';
import { ApiError, call, json } from './session.js';
import { Confirm, ErrorLine } from './widgets.js';

const SCOPE = 'registry:gc:*';

interface Usage {
  name: string;
  bytes: number;
  sharedBytes: number;
}

interface StorageUsage {
  totalBytes: number;
  sharedBytes: number;
  repositories: Usage[];
  namespaces: Array<Usage & { repositories: number }>;
}

export function Storage() {
  const [usage, setUsage] = useState<StorageUsage | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => void json<StorageUsage>('/admin/storage', SCOPE).then(setUsage, setError), []);
  const top = usage ? [...usage.repositories].sort((a, b) => b.bytes - a.bytes).slice(0, 50) : [];
  return (
    <main>
      <h1>Storage</h1>
      <ErrorLine error={error} />
      {usage && (
        <>
          <p class="summary" data-total={usage.totalBytes}>
            {bytes(usage.totalBytes)} stored, each blob counted once; {bytes(usage.sharedBytes)} of
            it shared by several repositories.
          </p>
          <p class="legend">
            <span class="swatch own" /> only here <span class="swatch shared" /> also held elsewhere
          </p>
          <h2>Namespaces</h2>
          <Bars rows={usage.namespaces.map((n) => ({ ...n, name: n.name || '(top level)' }))} />
          <h2>Repositories (largest {top.length})</h2>
          <Bars rows={top} link />
        </>
      )}
    </main>
  );
}

function Bars(props: { rows: Usage[]; link?: boolean }) {
  const max = Math.max(1, ...props.rows.map((r) => r.bytes));
  return (
    <ul class="bars">
      {props.rows.map((r) => (
        <li key={r.name} data-bar={r.name} data-bytes={r.bytes} data-shared={r.sharedBytes}>
          <span class="barname">
            {props.link ? <a href={href({ page: 'tags', repo: r.name })}>{r.name}</a> : r.name}
          </span>
          <span
            class="bar"
            role="img"
            aria-label={`${bytes(r.bytes)}, ${bytes(r.sharedBytes)} shared`}
          >
            <span class="own" style={{ width: `${((r.bytes - r.sharedBytes) / max) * 100}%` }} />
            <span class="shared" style={{ width: `${(r.sharedBytes / max) * 100}%` }} />
          </span>
          <span class="num">
            {bytes(r.bytes)}
            {r.sharedBytes > 0 && <small> ({bytes(r.sharedBytes)} shared)</small>}
          </span>
        </li>
      ))}
    </ul>
  );
}

interface GcRun {
  at: string;
  ms: number;
  dryRun: boolean;
  blobs: number;
  bytesFreed: number;
  manifests: number;
  error?: string;
}

interface GcReport {
  dryRun: boolean;
  blobsDeleted: string[];
  bytesFreed: number;
  manifestsDeleted: Array<{ repo: string; digest: string }>;
  hidden: { manifests: number; blobs: number };
}

export function Gc() {
  const [runs, setRuns] = useState<GcRun[]>([]);
  const [report, setReport] = useState<GcReport | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const [untagged, setUntagged] = useState(false);
  const refresh = (): void =>
    void json<{ runs: GcRun[] }>('/admin/gc/runs', SCOPE).then((b) => setRuns(b.runs), setError);
  useEffect(refresh, []);
  const run = async (dryRun: boolean): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      setReport(
        await json<GcReport>(
          `/admin/gc?dryRun=${dryRun}&untagged=${untagged}`,
          `${SCOPE} registry:catalog:*`,
          {
            method: 'POST',
          },
        ),
      );
      refresh();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main>
      <h1>Garbage collection</h1>
      <ErrorLine error={error} />
      <div class="actions">
        <label class="inline">
          <input
            type="checkbox"
            checked={untagged}
            onChange={(e) => setUntagged((e.currentTarget as HTMLInputElement).checked)}
          />
          Also remove untagged manifests
        </label>
        <button type="button" disabled={busy} onClick={() => void run(true)}>
          Dry run
        </button>
        <button type="button" class="danger" disabled={busy} onClick={() => setConfirm(true)}>
          Start GC
        </button>
      </div>
      {report && (
        <section
          class="card"
          data-gc-report={report.dryRun ? 'dry' : 'run'}
          data-bytes={report.bytesFreed}
        >
          <h2>{report.dryRun ? 'A run now would free' : 'Freed'}</h2>
          <p>
            {bytes(report.bytesFreed)} in {report.blobsDeleted.length + report.hidden.blobs} blobs;{' '}
            {report.manifestsDeleted.length + report.hidden.manifests} untagged manifests.
          </p>
          <ul class="plain">
            {report.manifestsDeleted.slice(0, 100).map((m) => (
              <li key={m.repo + m.digest}>
                <code>
                  {m.repo}@{m.digest}
                </code>
              </li>
            ))}
          </ul>
        </section>
      )}
      <h2>Last runs</h2>
      <table class="list">
        <thead>
          <tr>
            <th>When</th>
            <th>Kind</th>
            <th class="num">Freed</th>
            <th class="num">Blobs</th>
            <th class="wide num">Took</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.at + String(r.dryRun)} data-run={r.dryRun ? 'dry' : 'run'}>
              <td>{age(r.at)}</td>
              <td>{r.error ? `failed: ${r.error}` : r.dryRun ? 'dry run' : 'run'}</td>
              <td class="num">{bytes(r.bytesFreed)}</td>
              <td class="num">{r.blobs}</td>
              <td class="wide num">{r.ms} ms</td>
            </tr>
          ))}
          {runs.length === 0 && (
            <tr>
              <td colSpan={5}>No collection since the registry started.</td>
            </tr>
          )}
        </tbody>
      </table>
      {confirm && (
        <Confirm
          message="Delete every blob nothing references now? Deleted blobs cannot be restored."
          action="Start GC"
          onCancel={() => setConfirm(false)}
          onConfirm={() => {
            setConfirm(false);
            void run(false);
          }}
        />
      )}
    </main>
  );
}

interface CachedItem {
  repo: string;
  digest: string;
  kind: string;
  size: number;
  lastUse: string;
}

export function MirrorCache() {
  const [items, setItems] = useState<CachedItem[] | undefined>(undefined);
  const [off, setOff] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    call('/admin/proxy/cache', SCOPE).then(
      async (res) => setItems(((await res.json()) as { items: CachedItem[] }).items),
      (err: unknown) =>
        err instanceof ApiError && err.status === 404 ? setOff(true) : setError(err),
    );
  }, []);
  return (
    <main>
      <h1>Mirror cache</h1>
      <ErrorLine error={error} />
      {off && <p class="notice">The proxy mode is not configured on this registry.</p>}
      {items && (
        <table class="list">
          <thead>
            <tr>
              <th>Repository</th>
              <th>Kind</th>
              <th class="num">Size</th>
              <th class="wide">Last use</th>
            </tr>
          </thead>
          <tbody>
            {items.slice(0, 1000).map((i) => (
              <tr key={i.repo + i.digest} data-cached={i.repo} data-kind={i.kind}>
                <td>{i.repo}</td>
                <td>{i.kind}</td>
                <td class="num">{bytes(i.size)}</td>
                <td class="wide">{age(i.lastUse)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
