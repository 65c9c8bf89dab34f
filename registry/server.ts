// Starts a registry: opens storage and metadata, builds the access controller and the app,
// listens (HTTP or TLS), and shuts down gracefully (stop accepting, finish in-flight requests,
// then close the metadata store). Also: header and body time limits (body-timeout.ts), the
// background upload purger, and the optional `http.debug` metrics listener. Used by
// bin/tsregistry.ts and by the tests' helper.
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
import { UploadPurger } from './upload-purger.js';
import { BodyWatcher } from './body-timeout.js';
import { ProxyService } from './proxy/service.js';
import { runsMaintenance } from './cluster.js';

export interface RunningRegistry {
  url: string;
  host: string;
  port: number;
  registry: Registry;
  server: Server;
  logger: Logger;
  gc: GarbageCollector;
  purger: UploadPurger;
  /** `http://host:port` of the `http.debug` metrics listener, when configured. */
  debugUrl?: string;
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
    s3: config.storage.s3,
  });
  registry.uploads.maxPerClient = config.storage.uploads.maxperclient;
  await registry.uploads.loadCounts();
  const metrics = new Metrics(true, () => registry.uploads.openCount);
  const tls = config.http.tls;
  const scheme = tls ? 'https' : 'http';
  const auth = await buildAuth(config, scheme);
  const purger = new UploadPurger(registry, config.storage.maintenance.uploadpurging, logger);
  const bodies = new BodyWatcher({
    idleMs: config.http.timeouts.bodyidle * 1000,
    minRate: config.http.timeouts.bodyminrate,
  });
  const gc = new GarbageCollector(registry, {
    untagged: config.storage.maintenance.gc.untagged,
    grace: config.storage.maintenance.gc.grace,
    logger,
    metrics,
  });
  const proxy = config.proxy
    ? new ProxyService(registry, config.proxy, logger, metrics, gc)
    : undefined;
  const app = createApp({
    registry,
    auth: auth.controller,
    logger,
    metrics,
    extra: auth.routers,
    gc,
    adminLoopbackOnly: config.storage.maintenance.gc.loopbackonly,
    metricsRoute: !config.http.debug,
    proxy,
    users: auth.users,
    ui: config.ui.enabled,
  });
  const fast = fastPath(registry, auth.fast, { logger, metrics });
  const routed = (req: IncomingMessage, res: ServerResponse): void => {
    bodies.watch(req, res);
    app(req, res);
  };
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const handled = fast(req, res);
    if (handled === true) return;
    if (handled === false) return routed(req, res);
    void handled.then((done) => {
      if (!done) routed(req, res);
    });
  };
  const server: Server = tls
    ? createHttpsServer(
        { cert: readFileSync(tls.certificate), key: readFileSync(tls.key) },
        handler,
      )
    : createHttpServer(handler);
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => clientError(err, socket));
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = config.http.timeouts.headers * 1000;
  server.requestTimeout = 0;
  server.maxHeadersCount = 200;
  const { host, port } = listenAddress(config);
  await listen(server, port, host);
  const bound = (server.address() as AddressInfo).port;
  const debug = config.http.debug ? await debugServer(config, metrics) : undefined;
  // With several workers, one of them (slot 0) runs the background maintenance.
  const maintenance = runsMaintenance();
  if (maintenance) purger.start();
  const timer =
    config.storage.maintenance.gc.enabled && maintenance
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
      debug?.close();
      debug?.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        const t = setTimeout(() => server.closeAllConnections(), config.http.draintimeout * 1000);
        t.unref();
      });
      bodies.close();
      await purger.stop();
      await proxy?.idle();
      await gc.idle();
      await auth.close();
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
    purger,
    debugUrl: debug ? `http://${addressOf(debug)}` : undefined,
    close,
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

function addressOf(server: Server): string {
  const a = server.address() as AddressInfo;
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** The `http.debug` listener: `/metrics` only, on its own address (plain HTTP, like the reference's). */
async function debugServer(config: RegistryConfig, metrics: Metrics): Promise<Server> {
  const server = createHttpServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
      void metrics.registry.metrics().then(
        (text) => {
          res.setHeader('Content-Type', metrics.registry.contentType);
          res.end(text);
        },
        () => res.writeHead(500).end(),
      );
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  });
  server.headersTimeout = config.http.timeouts.headers * 1000;
  const { host, port } = listenAddress(config, config.http.debug!.addr);
  await listen(server, port, host);
  return server;
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
