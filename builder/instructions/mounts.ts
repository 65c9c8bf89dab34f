// RUN --mount=type=...: BuildKit's mount options (bind, cache, tmpfs, secret), parsed from the
// expanded flag value into plain data the executor turns into sandbox mounts; and the `from=`
// of a raw value, which the plan resolves (a stage or an image) before anything is expanded.
import { posix } from 'node:path';
import { errorAt, type SourceLocation } from '../errors.js';

export interface RunMount {
  type: 'bind' | 'cache' | 'tmpfs' | 'secret';
  target: string;
  /** bind/cache: path in `from` (or the context); secret: unused. */
  source?: string;
  /** A stage name/index or image for bind/cache. */
  from?: string;
  /** cache: the cache id (defaults to target); secret: the secret id. */
  id?: string;
  readonly: boolean;
  sharing?: 'shared' | 'private' | 'locked';
  mode?: number;
  uid?: number;
  gid?: number;
  required?: boolean;
  /** secret: expose as an environment variable instead of (or as well as) a file. */
  env?: string;
  size?: number;
}

const TYPES = ['bind', 'cache', 'tmpfs', 'secret'] as const;

/** A --mount value's key=value fields (keys lower-cased; a bare key is `true`). */
function mountFields(value: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of value.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).toLowerCase();
    fields.set(key, eq < 0 ? 'true' : part.slice(eq + 1));
  }
  return fields;
}

/** The `from=` of a --mount value as written (the plan expands it with the global ARGs). */
export function mountFrom(value: string): string | undefined {
  return mountFields(value).get('from');
}

export function parseRunMount(value: string, loc: SourceLocation): RunMount {
  const fields = mountFields(value);
  const type = (fields.get('type') ?? 'bind') as RunMount['type'];
  if (!TYPES.includes(type))
    throw errorAt(loc, `unsupported mount type "${type}"`, `expected one of ${TYPES.join(', ')}`);
  const target = fields.get('target') ?? fields.get('dst') ?? fields.get('destination');
  const id = fields.get('id');
  const m: RunMount = {
    type,
    target: target ?? '',
    source: fields.get('source') ?? fields.get('src'),
    from: fields.get('from'),
    id,
    readonly:
      isTrue(fields.get('readonly') ?? fields.get('ro')) ||
      (type === 'bind' && fields.get('rw') !== 'true' && fields.get('readwrite') !== 'true'),
    required: isTrue(fields.get('required')),
    env: fields.get('env'),
  };
  const sharing = fields.get('sharing');
  if (sharing !== undefined) {
    if (sharing !== 'shared' && sharing !== 'private' && sharing !== 'locked')
      throw errorAt(loc, `invalid sharing=${sharing}`, 'expected shared, private or locked');
    m.sharing = sharing;
  }
  for (const k of ['uid', 'gid'] as const) {
    const v = fields.get(k);
    if (v !== undefined) {
      if (!/^\d+$/.test(v)) throw errorAt(loc, `invalid ${k}=${v} in --mount`);
      m[k] = Number(v);
    }
  }
  const mode = fields.get('mode');
  if (mode !== undefined) {
    if (!/^[0-7]{1,4}$/.test(mode))
      throw errorAt(loc, `invalid mode=${mode} in --mount`, 'an octal mode like 0644');
    m.mode = parseInt(mode, 8);
  }
  checkOptions(m, fields, loc);
  if (type === 'secret') {
    // BuildKit: the secret's id is source= (or src=), else id=, else the target's base name
    if (m.source !== undefined && id !== undefined)
      throw errorAt(loc, "both source and id can't be set in a secret mount");
    if (!id && !target && !m.source) throw errorAt(loc, 'secret mount needs id= or target=');
    m.id = m.source ?? id ?? posix.basename(target!);
    m.source = undefined;
    if (!target && !m.env) m.target = `/run/secrets/${posix.basename(m.id)}`;
  } else if (!target) throw errorAt(loc, `--mount=type=${type} needs target=`);
  if (type === 'cache' && !m.id) m.id = posix.normalize(m.target);
  return m;
}

/** The options BuildKit refuses for a mount type (owner and mode, sharing, required, from). */
function checkOptions(m: RunMount, fields: Map<string, string>, loc: SourceLocation): void {
  const fileInfo = m.type === 'secret' || m.type === 'cache';
  for (const k of ['mode', 'uid', 'gid'])
    if (!fileInfo && fields.has(k)) throw errorAt(loc, `${k} not allowed for "${m.type}" mounts`);
  if (m.type !== 'cache' && fields.has('sharing'))
    throw errorAt(loc, `invalid cache sharing set for ${m.type} mount`);
  if (m.type !== 'secret' && fields.has('required'))
    throw errorAt(loc, `unexpected key 'required' for mount type '${m.type}'`);
  if (m.type === 'secret' && m.from !== undefined)
    throw errorAt(loc, 'secret mount should not have a from');
}

function isTrue(v: string | undefined): boolean {
  return v === 'true' || v === '1';
}
