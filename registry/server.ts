// Starts a registry: opens storage and metadata, builds the access controller and the app,
// listens (HTTP or TLS), and shuts down gracefully (stop accepting, finish in-flight requests,
// then close the metadata store). Used by bin/tsregistry.ts and by the tests' helper.
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import { createApp } from './app.js';
import { listenAddress, type RegistryConfig } from './config.js';
import { Metrics } from './metrics.js';
import { Registry } from './services/registry.js';
import { fastPath } from './fast-path.js';
import { buildAuth } from './auth/build.js';
import { GarbageCollector } from './gc.js';

export interface RunningRegistry {
  url: string;
  host: string;
  port: number;
  registry: Registry;
  server: Server;
  logger: Logger;
  gc: GarbageCollector;
  close(): Promise<void>;
}

export async function startServer(
  config: RegistryConfig,
  opts: { logger?: Logger } = {},
): Promise<RunningRegistry> {
  const logger = opts.logger ?? pino({ level: config.log.level, base: { service: 'tsregistry' } });
  const registry = await Registry.openFilesystem(config.storage.filesystem.rootdirectory, {
    deleteEnabled: config.storage.delete.enabled,
    metadata: config.metadata,
  });
  const metrics = new Metrics(true, async () => {
    let n = 0;
    for await (const _ of registry.meta.allSessions()) n++;
    return n;
  });
  const tls = config.http.tls;
  const scheme = tls ? 'https' : 'http';
  const auth = await buildAuth(config, scheme);
  const gc = new GarbageCollector(registry, {
    untagged: config.storage.maintenance.gc.untagged,
    grace: config.storage.maintenance.gc.grace,
    logger,
    metrics,
  });
  const app = createApp({
    registry,
    auth: auth.controller,
    logger,
    metrics,
    extra: auth.routers,
    gc,
  });
  const fast = fastPath(registry, auth.fast, metrics);
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (!fast(req, res)) app(req, res);
  };
  const server: Server = tls
    ? createHttpsServer(
        { cert: readFileSync(tls.certificate), key: readFileSync(tls.key) },
        handler,
      )
    : createHttpServer(handler);
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => clientError(err, socket));
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 70_000;
  server.requestTimeout = 0;
  server.maxHeadersCount = 200;
  const { host, port } = listenAddress(config);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const timer = config.storage.maintenance.gc.enabled
    ? setInterval(
        () => void gc.run({ dryRun: false }).catch((err) => logger.error({ err }, 'gc failed')),
        config.storage.maintenance.gc.interval * 1000,
      )
    : undefined;
  timer?.unref();
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      if (timer) clearInterval(timer);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        const t = setTimeout(() => server.closeAllConnections(), config.http.draintimeout * 1000);
        t.unref();
      });
      await gc.idle();
      await registry.close();
    })());
  logger.info(
    { addr: `${host}:${bound}`, tls: !!tls, auth: config.auth ? 'token' : 'none' },
    'listening',
  );
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `${scheme}://${urlHost}:${bound}`,
    host: urlHost,
    port: bound,
    registry,
    server,
    logger,
    gc,
    close,
  };
}

/** Malformed HTTP (oversized headers, garbage after a body): an OCI error, never a hang or 5xx. */
function clientError(err: NodeJS.ErrnoException, socket: import('node:stream').Duplex): void {
  if (!socket.writable || err.code === 'ECONNRESET') return void socket.destroy();
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : 400;
  const body = JSON.stringify({
    errors: [
      {
        code: 'UNSUPPORTED',
        message: tooLarge ? 'request headers too large' : 'malformed HTTP request',
      },
    ],
  });
  socket.end(
    `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
