// The one table of OCI distribution error codes (spec "Error Codes" plus the distribution
// extensions clients know), the RegistryError class handlers throw, and the one Express error
// middleware that writes `{"errors":[{code,message,detail}]}`. Domain errors from shared/ (and
// the storage driver's) are mapped here, each to its own code, so services can throw them
// without knowing HTTP.
import type { ErrorRequestHandler, Response } from 'express';
import {
  DigestMismatchError,
  InvalidDigestError,
  InvalidInputError,
  InvalidManifestError,
  InvalidNameError,
  InvalidTagError,
  NotFoundError,
} from '../shared/errors.js';
import { PathNotFoundError, StorageUnavailableError } from './storage/driver.js';
import { MetadataUnavailableError } from './metadata/store.js';

export const ErrorCodes = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: 'manifest references a blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  TAG_INVALID: { status: 400, message: 'manifest tag did not match URI' },
  RANGE_INVALID: { status: 416, message: 'invalid content range' },
  PAGINATION_NUMBER_INVALID: { status: 400, message: 'invalid number of results requested' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  UNAVAILABLE: { status: 503, message: 'service unavailable' },
  UNKNOWN: { status: 500, message: 'unknown error' },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** An error with an OCI code; `status` defaults to the table's, `headers` go on the reply. */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly detail?: unknown,
    opts: { status?: number; headers?: Record<string, string> } = {},
  ) {
    super(message ?? ErrorCodes[code].message);
    this.status = opts.status ?? ErrorCodes[code].status;
    this.headers = opts.headers ?? {};
  }
  readonly headers: Record<string, string>;

  body(): string {
    const entry: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.detail !== undefined) entry.detail = this.detail;
    return JSON.stringify({ errors: [entry] });
  }
}

/**
 * Domain errors and the OCI code each stands for, most specific class first. Bad input of no
 * more specific kind is a 400 and a missing thing of no more specific kind a 404, both under
 * UNSUPPORTED (the distribution spec has no generic code for either).
 */
const DOMAIN_ERRORS: ReadonlyArray<{
  type: abstract new (...args: never[]) => Error;
  code: ErrorCode;
  status?: number;
}> = [
  { type: DigestMismatchError, code: 'DIGEST_INVALID' },
  { type: InvalidDigestError, code: 'DIGEST_INVALID' },
  { type: InvalidManifestError, code: 'MANIFEST_INVALID' },
  { type: InvalidNameError, code: 'NAME_INVALID' },
  { type: InvalidTagError, code: 'TAG_INVALID' },
  { type: InvalidInputError, code: 'UNSUPPORTED', status: 400 },
  { type: PathNotFoundError, code: 'BLOB_UNKNOWN' },
  { type: NotFoundError, code: 'UNSUPPORTED', status: 404 },
];

/** Maps anything thrown to a RegistryError; unknown failures become UNKNOWN (500). */
export function toRegistryError(err: unknown): RegistryError {
  if (err instanceof RegistryError) return err;
  if (err instanceof MetadataUnavailableError || err instanceof StorageUnavailableError)
    return new RegistryError(
      'UNAVAILABLE',
      `${err.message}; retry in ${err.retryAfter}s`,
      { retryAfter: err.retryAfter },
      { headers: { 'Retry-After': String(err.retryAfter) } },
    );
  const known = DOMAIN_ERRORS.find((d) => err instanceof d.type);
  if (known) {
    const detail =
      err instanceof DigestMismatchError
        ? { expected: err.expected, actual: err.actual }
        : undefined;
    const message = err instanceof PathNotFoundError ? undefined : (err as Error).message;
    return new RegistryError(known.code, message, detail, { status: known.status });
  }
  const e = err as { type?: string; status?: number; message?: string };
  // Errors raised by express body parsing and by aborted/oversized request bodies.
  if (e && typeof e.status === 'number' && e.status >= 400 && e.status < 500)
    return new RegistryError('UNSUPPORTED', e.message ?? 'bad request', undefined, {
      status: e.status,
    });
  return new RegistryError('UNKNOWN', 'internal error');
}

/** Writes an OCI error reply (used by the middleware and by the fast path). */
export function sendRegistryError(
  res: Response | import('node:http').ServerResponse,
  err: RegistryError,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = err.body();
  res.statusCode = err.status;
  for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

/** The Express error middleware: every error reply of the registry goes through here. */
export function errorMiddleware(onUnknown: (err: unknown) => void): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    const regErr = toRegistryError(err);
    if (regErr.code === 'UNKNOWN') onUnknown(err);
    sendRegistryError(res, regErr);
  };
}
