// The registry client's HTTP layer: one request function over Node's http/https with keep-alive
// agents, redirects, bounded retries with exponential backoff on 429/5xx and broken connections,
// and TLS errors turned into one-line hints about `--insecure`.
import type { Agent as HttpAgent, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import { TsdockError } from '../errors.js';
import { extraCaOptions } from '../tls-trust.js';

/** A request body: bytes, or a factory that opens a fresh stream for each attempt. */
export type Body = Buffer | (() => Readable);

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: Body;
  /** Content-Length of a streamed body; without it the body goes out chunked. */
  bodyLength?: number;
  /** Skip TLS certificate verification (`--insecure`). */
  insecureTls?: boolean;
  /** PEM certificates of CAs to trust besides the built-in roots (a registry's own CA). */
  ca?: string;
  /** Attempts in all for retryable failures (default 4). */
  attempts?: number;
  /** Redirects to follow (default 5); Authorization is dropped when the host changes. */
  redirects?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The final URL after redirects. */
  url: string;
  body: IncomingMessage;
}

// node:http/https (and tls under them) load on the first request, not with the module: commands
// that bundle the client but build or run locally never pay for them at start-up.
const requireBuiltin = createRequire(import.meta.url);
const lazy = {
  http: undefined as typeof import('node:http') | undefined,
  https: undefined as typeof import('node:https') | undefined,
};
const httpModule = () => (lazy.http ??= requireBuiltin('node:http') as typeof import('node:http'));
const httpsModule = () =>
  (lazy.https ??= requireBuiltin('node:https') as typeof import('node:https'));

const agents: { http?: HttpAgent; https?: HttpsAgent; httpsInsecure?: HttpsAgent } = {};
/** One agent per extra CA bundle (few: one per configured upstream). */
const caAgents = new Map<string, HttpsAgent>();

function plainAgent(): HttpAgent {
  agents.http ??= new (httpModule().Agent)({ keepAlive: true, maxSockets: 32 });
  return agents.http;
}

function secureAgent(insecure: boolean | undefined, ca?: string): HttpsAgent {
  const { Agent } = httpsModule();
  if (ca && !insecure) {
    let agent = caAgents.get(ca);
    if (!agent) {
      agent = new Agent({ keepAlive: true, maxSockets: 32, ...tlsTrust(insecure, ca) });
      caAgents.set(ca, agent);
    }
    return agent;
  }
  if (insecure) {
    agents.httpsInsecure ??= new Agent({ keepAlive: true, maxSockets: 32, ...tlsTrust(true) });
    return agents.httpsInsecure;
  }
  agents.https ??= new Agent({ keepAlive: true, maxSockets: 32, ...tlsTrust(false) });
  return agents.https;
}

/** Whom a TLS connection trusts: nobody checked (`--insecure`), Node's roots plus a registry's own CA, or the roots plus the set-aside extra certificates. */
export function tlsTrust(
  insecure: boolean | undefined,
  ca?: string,
): { rejectUnauthorized?: boolean; ca?: string[] } {
  if (insecure) return { rejectUnauthorized: false };
  if (ca) {
    const { rootCertificates } = requireBuiltin('node:tls') as typeof import('node:tls');
    return { ca: [...rootCertificates, ca] };
  }
  // the extra CA file is read only by commands that speak TLS
  return extraCaOptions();
}

/** Milliseconds of socket inactivity after which a request is treated as a broken connection. */
export const IDLE_TIMEOUT_MS = 60_000;
const BACKOFF_BASE_MS = 200;

/**
 * Network-level failure codes worth another attempt: a connection that broke or timed out, a
 * DNS answer that may come. Not a refused connection: nothing listens there, and waiting 1.5 s
 * of backoff before saying so helps no one (docker does not retry it either).
 */
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

export function isRetryableError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && RETRYABLE_CODES.has(code);
}

/** A network failure worth another try, bare or wrapped in a TsdockError by send(). */
export function isTransient(err: unknown): boolean {
  return isRetryableError(err) || isRetryableError((err as { cause?: unknown } | undefined)?.cause);
}

function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 502 || status === 503 || status === 504 || status === 500;
}

/** Sends one request, retrying 429/5xx and socket errors with backoff; follows redirects. */
export async function send(req: HttpRequest): Promise<HttpResponse> {
  const attempts = req.attempts ?? 4;
  for (let attempt = 1; ; attempt++) {
    let res: HttpResponse;
    try {
      res = await sendFollowing(req);
    } catch (err) {
      if (attempt < attempts && isRetryableError(err)) {
        await sleep(backoff(attempt));
        continue;
      }
      throw networkError(req.url, err);
    }
    if (attempt < attempts && isRetryableStatus(res.status)) {
      const wait = retryAfter(res.headers['retry-after']) ?? backoff(attempt);
      await drain(res);
      await sleep(wait);
      continue;
    }
    return res;
  }
}

async function sendFollowing(req: HttpRequest): Promise<HttpResponse> {
  let url = req.url;
  let headers = { ...req.headers };
  let method = req.method;
  let body = req.body;
  for (let hops = req.redirects ?? 5; ; hops--) {
    const res = await sendOnce({ ...req, url, headers, method, body });
    const location = res.headers.location;
    if (![301, 302, 303, 307, 308].includes(res.status) || !location || hops <= 0) return res;
    // Upload and manifest endpoints answer with Location on 201/202 too; only 3xx redirects here.
    await drain(res);
    const next = new URL(location, url);
    if (next.host !== new URL(url).host) {
      headers = Object.fromEntries(
        Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'),
      );
    }
    if (res.status === 303) {
      method = 'GET';
      body = undefined;
    }
    url = next.toString();
  }
}

function sendOnce(req: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(req.url);
    const secure = u.protocol === 'https:';
    const mod = secure ? httpsModule() : httpModule();
    const agent = secure ? secureAgent(req.insecureTls, req.ca) : plainAgent();
    const headers: Record<string, string> = { ...req.headers };
    if (Buffer.isBuffer(req.body)) headers['content-length'] = String(req.body.length);
    else if (req.body && req.bodyLength !== undefined)
      headers['content-length'] = String(req.bodyLength);
    else if (!req.body && ['PUT', 'POST', 'PATCH'].includes(req.method))
      headers['content-length'] = '0';
    const r = mod.request(u, { method: req.method, headers, agent }, (res) => {
      res.setTimeout(IDLE_TIMEOUT_MS, () =>
        res.destroy(Object.assign(new Error('connection idle too long'), { code: 'ETIMEDOUT' })),
      );
      resolve({ status: res.statusCode ?? 0, headers: res.headers, url: req.url, body: res });
    });
    r.setTimeout(IDLE_TIMEOUT_MS, () =>
      r.destroy(Object.assign(new Error('connection idle too long'), { code: 'ETIMEDOUT' })),
    );
    r.on('error', reject);
    if (req.body === undefined) r.end();
    else if (Buffer.isBuffer(req.body)) r.end(req.body);
    else {
      const src = req.body();
      src.on('error', (err) => r.destroy(err));
      src.pipe(r);
    }
  });
}

/** Reads a whole (small) response body. */
export async function readBody(res: HttpResponse, limit = 32 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      res.body.destroy();
      throw new TsdockError(`response from ${res.url} is larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Discards a response body so the connection can be reused. */
export async function drain(res: HttpResponse): Promise<void> {
  try {
    for await (const _ of res.body) void _;
  } catch {
    // a broken body on a response we are discarding does not matter
  }
}

/** A failure to reach `url` as one line (TLS problems with the --insecure hint). */
export function networkError(url: string, err: unknown): Error {
  if (err instanceof TsdockError) return err;
  const e = err as NodeJS.ErrnoException;
  const host = safeHost(url);
  const code = e?.code ?? '';
  if (
    /CERT|SSL|TLS|EPROTO|SELF_SIGNED|UNABLE_TO/.test(code) ||
    /SSL|TLS|certificate/i.test(e.message)
  ) {
    return new TsdockError(
      `TLS error talking to ${host}: ${e.message}`,
      `if ${host} is a plain-HTTP or self-signed registry you trust, use --insecure`,
      undefined,
      { cause: err },
    );
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new TsdockError(
      `cannot connect to registry ${host}: ${code}`,
      'check the registry address and that it is running',
      undefined,
      { cause: err },
    );
  }
  return new TsdockError(
    `request to ${host} failed: ${e?.message ?? String(err)}`,
    undefined,
    undefined,
    {
      cause: err,
    },
  );
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function backoff(attempt: number): number {
  return BACKOFF_BASE_MS * 2 ** (attempt - 1) * (0.75 + Math.random() / 2);
}

function retryAfter(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.min(secs, 30) * 1000;
  const when = Date.parse(v);
  return Number.isNaN(when) ? undefined : Math.min(Math.max(0, when - Date.now()), 30_000);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A header's single value. */
export function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : v;
}
