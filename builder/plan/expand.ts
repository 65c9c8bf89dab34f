// Dispatch-time expansion (pure): one typed instruction + the stage's ARG/ENV state -> the fully
// resolved step the executor runs. Follows BuildKit on what is expanded: ENV/LABEL/ARG values,
// WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL, COPY/ADD paths and flags, RUN --mount; never
// CMD/ENTRYPOINT/RUN commands (the shell does that).
import { posix } from 'node:path';
import { errorAt } from '../errors.js';
import { parseRunMount, type RunMount } from '../instructions/mounts.js';
import type { CopyInstruction, Instruction, KeyValue } from '../instructions/types.js';
import { processWord, ShellSyntaxError } from '../parse/shell-lex.js';
import type { StageVars } from './stage-vars.js';

export interface CopySource {
  /** A path/glob in the context or the --from stage/image, or a URL (ADD). */
  path: string;
  /** Set for `<<EOF` sources: the file's content (expanded unless the delimiter was quoted). */
  heredoc?: { name: string; content: string };
}

export type ExpandedStep =
  | { kind: 'env'; pairs: KeyValue[] }
  | { kind: 'arg' }
  | { kind: 'label'; pairs: KeyValue[] }
  | { kind: 'expose'; ports: string[] }
  | { kind: 'user'; user: string }
  | { kind: 'workdir'; path: string }
  | { kind: 'volume'; paths: string[] }
  | { kind: 'stopsignal'; signal: string }
  | { kind: 'maintainer'; maintainer: string }
  | { kind: 'config-only' }
  | {
      kind: 'copy';
      add: boolean;
      sources: CopySource[];
      dest: string;
      chown?: string;
      chmod?: number;
      checksum?: string;
    }
  | { kind: 'run'; mounts: RunMount[] };

const PORT_RE = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp|sctp))?$/i;

/** Expands `ins` against `vars` (mutating vars for ENV and ARG), given the current WORKDIR. */
export function expandInstruction(
  ins: Instruction,
  vars: StageVars,
  workdir: string,
): ExpandedStep {
  const x = (w: string) => vars.expand(w, ins);
  switch (ins.kind) {
    case 'ENV':
      return { kind: 'env', pairs: vars.setEnv(ins.pairs, ins) };
    case 'ARG':
      for (const a of ins.args) vars.declareArg(a, ins);
      return { kind: 'arg' };
    case 'LABEL':
      return { kind: 'label', pairs: ins.pairs.map((p) => ({ key: x(p.key), value: x(p.value) })) };
    case 'EXPOSE':
      return {
        kind: 'expose',
        ports: ins.ports
          .flatMap((p) => vars.expandWords(p, ins))
          .flatMap((p) => exposedPorts(p, ins)),
      };
    case 'USER':
      return { kind: 'user', user: x(ins.user) };
    case 'WORKDIR':
      return { kind: 'workdir', path: posix.resolve(workdir || '/', x(ins.path)) };
    case 'VOLUME': {
      const paths = ins.paths.map(x);
      if (paths.some((p) => p.trim() === ''))
        throw errorAt(ins, 'VOLUME specified can not be an empty string');
      return { kind: 'volume', paths };
    }
    case 'STOPSIGNAL':
      return { kind: 'stopsignal', signal: checkSignal(x(ins.signal), ins) };
    case 'MAINTAINER':
      return { kind: 'maintainer', maintainer: ins.maintainer };
    case 'COPY':
    case 'ADD':
      return expandCopy(ins, vars);
    case 'RUN':
      return { kind: 'run', mounts: ins.mounts.map((m) => parseRunMount(x(m), ins)) };
    default:
      return { kind: 'config-only' };
  }
}

function expandCopy(ins: CopyInstruction, vars: StageVars): ExpandedStep {
  const x = (w: string) => vars.expand(w, ins);
  const sources = ins.sources.map((s): CopySource => {
    const h = /^\d*<<-?\s*(.+)$/.exec(s);
    const doc = h && ins.heredocs.find((d) => d.name === h[1]!.replace(/^["']|["']$/g, ''));
    if (!doc) return { path: x(s) };
    const content = doc.expand ? expandHeredoc(doc.content, vars, ins) : doc.content;
    return { path: doc.name, heredoc: { name: doc.name, content } };
  });
  let chmod: number | undefined;
  if (ins.chmod !== undefined) {
    const m = x(ins.chmod);
    if (!/^[0-7]{3,4}$/.test(m))
      throw errorAt(ins, `invalid --chmod=${m}`, 'an octal mode like 0755');
    chmod = parseInt(m, 8);
  }
  if (ins.kind === 'COPY' && sources.some((s) => /^https?:\/\//.test(s.path)))
    throw errorAt(ins, 'COPY does not take URLs', 'use ADD for a URL');
  return {
    kind: 'copy',
    add: ins.kind === 'ADD',
    sources,
    dest: x(ins.dest),
    chown: ins.chown !== undefined ? x(ins.chown) : undefined,
    chmod,
    checksum: ins.checksum !== undefined ? x(ins.checksum) : undefined,
  };
}

/** Heredoc bodies: variables expanded, quotes and escapes left as written. */
export function expandHeredoc(
  content: string,
  vars: StageVars,
  loc: { file: string; line: number },
): string {
  try {
    return processWord(content, vars.lookup, {
      escape: vars.escape,
      skipProcessQuotes: true,
      rawEscapes: true,
    });
  } catch (e) {
    if (e instanceof ShellSyntaxError) throw errorAt(loc, e.message);
    throw e;
  }
}

/** One EXPOSE word as `port/proto` keys; a range `8000-8002[/udp]` is each of its ports (BuildKit). */
function exposedPorts(p: string, loc: { file: string; line: number }): string[] {
  const m = PORT_RE.exec(p);
  const first = Number(m?.[1]);
  const last = m?.[2] === undefined ? first : Number(m[2]);
  if (!m || last > 65535)
    throw errorAt(
      loc,
      `invalid port "${p}" in EXPOSE`,
      'expected PORT[/tcp|udp|sctp] or a range like 8000-8010',
    );
  if (last < first)
    throw errorAt(loc, `invalid port range "${p}" in EXPOSE`, 'the end is below the start');
  const proto = (m[3] ?? 'tcp').toLowerCase();
  return Array.from({ length: last - first + 1 }, (_, i) => `${first + i}/${proto}`);
}

const SIGNALS = new Set(
  'HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS'.split(
    ' ',
  ),
);

function checkSignal(s: string, loc: { file: string; line: number }): string {
  const name = s.toUpperCase().replace(/^SIG/, '');
  if (/^\d+$/.test(s) || SIGNALS.has(name) || /^RTMIN(\+\d+)?$|^RTMAX(-\d+)?$/.test(name)) return s;
  throw errorAt(loc, `invalid signal "${s}" in STOPSIGNAL`, 'e.g. SIGTERM, SIGINT or a number');
}
