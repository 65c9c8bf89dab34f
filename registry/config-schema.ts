// The registry config's schema: every section and key tsregistry reads, with the type each
// takes. loadConfig (registry/config.ts) checks the merged config (file, then REGISTRY_* env)
// against it before using anything, so a misspelt key, a section tsregistry does not implement
// or a value of the wrong type stops the start with one line naming the key path, instead of
// being ignored or crashing later. Ranges and cross-field rules (a DSN's shape, S3 part sizes,
// proxy prefixes) stay with the code that normalizes each section.
import { z } from 'zod/v3';
import { editDistance } from '../shared/edit-distance.js';

/** Seconds as a number, or "30s", "5m", "1h". */
const durationHint = 'expected a duration (seconds, or 30s, 5m, 1h)';
const duration = z.union(
  [z.number().nonnegative(durationHint), z.string().regex(/^\d+(s|m|h)?$/, durationHint)],
  { errorMap: () => ({ message: durationHint }) },
);
const bool = z.boolean({ message: 'expected true or false' });
const count = z.number({ message: 'expected a whole number' }).int('expected a whole number');
const text = z.union([z.string(), z.number().transform(String)], {
  errorMap: () => ({ message: 'expected a string' }),
});
const hostPort = z
  .string({ message: 'expected host:port' })
  .regex(/:\d+$/, { message: 'expected host:port' });
/** Bytes, or "512m", "10g". */
const byteSize = z.union([z.number().nonnegative(), z.string()], {
  errorMap: () => ({ message: 'expected a size (bytes, or 512m, 10g)' }),
});

/**
 * A mapping with exactly these keys (each optional unless its schema requires it); any other
 * key is reported as unknown, with the closest known key as a suggestion.
 */
function section<T extends z.ZodRawShape>(shape: T) {
  const known = Object.keys(shape);
  return z.preprocess(
    (value, ctx) => {
      if (value !== null && typeof value === 'object' && !Array.isArray(value))
        for (const key of Object.keys(value))
          if (!known.includes(key))
            ctx.addIssue({ code: 'custom', path: [key], ...unknownKey(key, known) });
      return value;
    },
    z.object(shape, {
      errorMap: (issue, ctx) => ({
        message:
          issue.code === 'invalid_type' && ctx.data === null
            ? 'is empty: expected a mapping'
            : 'expected a mapping',
      }),
    }),
  );
}

/** The issue for an unknown key: the closest known key as `params.suggest`, else the list. */
function unknownKey(
  key: string,
  known: string[],
): { message: string; params?: { suggest: string } } {
  const close = known
    .map((k) => ({ k, d: editDistance(key, k) }))
    .filter(({ d }) => d <= Math.max(1, Math.floor(key.length / 3)))
    .sort((a, b) => a.d - b.d)[0];
  return close
    ? { message: 'unknown key', params: { suggest: close.k } }
    : { message: `unknown key (known: ${known.join(', ') || 'none'})` };
}

const upstreamTls = section({ insecureskipverify: bool.optional(), ca: text.optional() });
const upstreamKeys = {
  remoteurl: text.optional(),
  username: text.optional(),
  password: text.optional(),
  ttl: duration.optional(),
  tls: upstreamTls.optional(),
  local: z.array(text, { message: 'expected a list of repository prefixes' }).optional(),
};
/** `proxy:` in the reference registry's form (one upstream at the root)... */
const proxySingle = section({ ...upstreamKeys, maxsize: byteSize.optional() });
/** ...or tsregistry's list of upstreams, each under its own prefix. */
const proxyList = section({
  maxsize: byteSize.optional(),
  upstreams: z.array(section({ ...upstreamKeys, prefix: text.optional() }), {
    message: 'expected a list of upstreams',
  }),
});
const proxy = z.custom<unknown>().superRefine((value, ctx) => {
  const form =
    value !== null && typeof value === 'object' && 'upstreams' in value ? proxyList : proxySingle;
  const result = form.safeParse(value);
  if (!result.success)
    for (const issue of result.error.issues)
      ctx.addIssue({
        code: 'custom',
        path: issue.path,
        message: issue.message,
        params: issue.code === 'custom' ? issue.params : undefined,
      });
});

const s3 = section({
  region: text.optional(),
  regionendpoint: text.optional(),
  bucket: text.optional(),
  accesskey: text.optional(),
  secretkey: text.optional(),
  rootdirectory: text.optional(),
  forcepathstyle: bool.optional(),
  chunksize: count.optional(),
  multipartcopychunksize: count.optional(),
  multipartcopythresholdsize: count.optional(),
  multipartcopymaxconcurrency: count.optional(),
  redirect: bool.optional(),
});

const tokenAuth = section({
  realm: text.optional(),
  service: text.optional(),
  issuer: text.optional(),
  expiration: duration.optional(),
  key: text.optional(),
  rootcertbundle: text.optional(),
  users: text.optional(),
  anonymouspull: bool.optional(),
  loginlimit: section({
    enabled: bool.optional(),
    peruser: count.optional(),
    peraddress: count.optional(),
    window: duration.optional(),
  }).optional(),
});

const sections = {
  version: z.union([z.string(), z.number()], {
    errorMap: () => ({ message: 'expected a version such as 0.1' }),
  }),
  log: section({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      errorMap: () => ({ message: 'expected one of error, warn, info, debug, trace, silent' }),
    }),
    formatter: z.enum(['json', 'text'], { errorMap: () => ({ message: 'expected json or text' }) }),
  }),
  storage: section({
    filesystem: section({ rootdirectory: text }),
    s3: s3.optional(),
    delete: section({ enabled: bool }),
    maintenance: section({
      gc: section({
        enabled: bool,
        interval: duration,
        untagged: bool,
        grace: duration,
        loopbackonly: bool,
      }),
      uploadpurging: section({ enabled: bool, age: duration, interval: duration, dryrun: bool }),
    }),
    uploads: section({ maxperclient: count }),
  }),
  http: section({
    addr: hostPort,
    workers: count.optional(),
    tls: section({
      certificate: z.string({ message: 'expected the path of a PEM certificate' }),
      key: z.string({ message: 'expected the path of a PEM private key' }),
    }).optional(),
    draintimeout: z.number({ message: 'expected seconds' }).nonnegative('expected seconds'),
    timeouts: section({ headers: duration, bodyidle: duration, bodyminrate: count }),
    debug: section({ addr: hostPort }).optional(),
  }),
  auth: section({ token: tokenAuth.optional() }).optional(),
  metadata: section({
    /** The default, named explicitly: embedded LevelDB under storage.filesystem.rootdirectory. */
    leveldb: section({}).optional(),
    postgres: section({
      dsn: text.optional(),
      poolsize: count.optional(),
      connecttimeout: duration.optional(),
      querytimeout: duration.optional(),
    }).optional(),
  })
    .refine((m) => !(m.leveldb && m.postgres), {
      message: 'set one of leveldb and postgres, not both',
    })
    .optional(),
  proxy: proxy.optional(),
  ui: section({ enabled: bool }).optional(),
};

/** The whole config, after the defaults, the file and the environment are merged. */
export const registryConfigSchema = section(sections);

/** The top-level sections (`http`, `storage`...): REGISTRY_<SECTION>_... variables set them. */
export const configSections: readonly string[] = Object.keys(sections);

/** The first problem with a merged config as `key.path: what is wrong`, or undefined. */
export function configProblem(merged: unknown): { path: string; message: string } | undefined {
  const result = registryConfigSchema.safeParse(merged);
  if (result.success) return undefined;
  const issues = result.error.issues;
  // An unknown key says more than the type errors it may cause elsewhere.
  const issue = issues.find((i) => i.message.startsWith('unknown key')) ?? issues[0]!;
  const dotted = (path: (string | number)[]) =>
    path
      .map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`))
      .join('')
      .replace(/^\./, '');
  const suggest =
    issue.code === 'custom' ? (issue.params?.suggest as string | undefined) : undefined;
  const message =
    issue.code === 'invalid_type' && issue.received === 'undefined'
      ? 'missing'
      : suggest !== undefined
        ? `${issue.message} (did you mean ${dotted([...issue.path.slice(0, -1), suggest])}?)`
        : issue.message;
  return { path: dotted(issue.path), message };
}
