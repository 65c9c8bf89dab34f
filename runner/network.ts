// Container networking: none (own namespace, lo only), host, container:<name> (join another
// container's namespaces) and bridge: a host bridge `tsdock0` with an address from a
// configurable subnet (TSDOCK_SUBNET, default 172.31.0.0/16), one veth pair per container
// (host end on the bridge, peer moved into the container as eth0; the native helper sets its
// address and default route). The veth disappears with the container's network namespace.
// Containers reach the outside through NAT (nat.ts: masquerade, no inbound), installed before
// the bridge is created, so a bridge that exists has its rules; like docker0, the bridge and its
// rules stay until `tsnetwork rm` (removeBridge) takes them down.
// Published ports (-p) are a userland TCP proxy in the supervising process: it listens on
// hostIp:hostPort (127.0.0.1 unless given) and connects to the container's address (no DNAT).
// Addresses are reserved by symlinks named after the address: a container's id, or
// `build-<pid>-<random>` for a build's RUN (stale once that process is gone).
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { join } from 'node:path';
import type { PortMapping } from './spec.js';
import { containersRoot } from '../shared/paths.js';
import { TsdockError } from '../shared/errors.js';
import { ensureNat, removeNat } from './nat.js';

export const BRIDGE = process.env.TSDOCK_BRIDGE ?? 'tsdock0';

export interface Subnet {
  /** network address as a 32-bit number */
  base: number;
  prefix: number;
}

export function parseSubnet(cidr = process.env.TSDOCK_SUBNET ?? '172.31.0.0/16'): Subnet {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  const prefix = Number(m?.[5]);
  if (!m || prefix < 8 || prefix > 30) {
    throw new TsdockError(`invalid subnet "${cidr}"`, 'TSDOCK_SUBNET must look like 172.31.0.0/16');
  }
  const ip = m.slice(1, 5).reduce((acc, o) => acc * 256 + Number(o), 0);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { base: (ip & mask) >>> 0, prefix };
}

/** The subnet in CIDR form (network address/prefix). */
export function cidrOf(net: Subnet): string {
  return `${ipString(net.base)}/${net.prefix}`;
}

export function ipString(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/** The bridge's own address (.1 of the subnet): the containers' gateway. */
export function gatewayOf(net: Subnet): string {
  return ipString(net.base + 1);
}

function ipRoot(): string {
  return join(containersRoot(), '.ips');
}

/** Reserves the lowest free address (.2 upward) for a container id, atomically. */
export function allocateAddress(id: string, net = parseSubnet(), dir = ipRoot()): string {
  mkdirSync(dir, { recursive: true });
  const size = 2 ** (32 - net.prefix);
  for (let i = 2; i < size - 1; i++) {
    const ip = ipString(net.base + i);
    try {
      symlinkSync(id, join(dir, ip));
      return ip;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = readlinkSync(join(dir, ip));
      if (!ownerAlive(owner, dir)) {
        unlinkSync(join(dir, ip)); // its container is gone
        i--;
      }
    }
  }
  throw new TsdockError('no free address left in the container subnet', 'remove some containers');
}

/** A reservation's owner still exists: its container record, or its build process. */
function ownerAlive(owner: string, dir: string): boolean {
  const build = /^build-(\d+)-/.exec(owner);
  if (!build) return existsSync(join(dir, '..', owner));
  try {
    process.kill(Number(build[1]), 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function releaseAddress(ip: string, id: string, dir = ipRoot()): void {
  try {
    if (readlinkSync(join(dir, ip)) === id) unlinkSync(join(dir, ip));
  } catch {
    /* not reserved */
  }
}

function ipBatch(lines: string[]): void {
  try {
    execFileSync('ip', ['-batch', '-'], {
      input: lines.join('\n') + '\n',
      stdio: ['pipe', 'ignore', 'pipe'],
    });
  } catch (err) {
    const msg = String((err as { stderr?: Buffer }).stderr ?? err)
      .trim()
      .split('\n')[0];
    throw new TsdockError(
      `network setup failed: ${msg}`,
      process.getuid?.() === 0
        ? 'bridge networking needs root and iproute2'
        : // rootless hook: the bridge is root's; rootless containers use pasta
          "the bridge is root's: as a user, containers use pasta (nothing to set up); run as root to manage the bridge",
    );
  }
}

/** The bridge's ifalias once its NAT rules are in (a bridge from before NAT lacks it). */
function natMark(net: Subnet): string {
  return `tsdock nat ${cidrOf(net)}`;
}

/**
 * Creates the bridge and its NAT rules once (idempotent): the rules go in first, and the bridge's
 * alias records that they did, so a start only reads one sysfs file when all is in place.
 */
export function ensureBridge(net = parseSubnet()): void {
  const dev = `/sys/class/net/${BRIDGE}`;
  let alias: string | undefined;
  try {
    alias = readFileSync(join(dev, 'ifalias'), 'utf8').trim();
  } catch {
    /* no bridge yet */
  }
  if (alias === natMark(net)) return;
  ensureNat(BRIDGE, cidrOf(net));
  if (alias === undefined) {
    try {
      ipBatch([`link add ${BRIDGE} type bridge`]);
    } catch (err) {
      if (!existsSync(dev)) throw err; // lost a race: fine
    }
  }
  // all idempotent, so a bridge left half-made by a crash is completed here
  ipBatch([
    `addr replace ${gatewayOf(net)}/${net.prefix} dev ${BRIDGE}`,
    `link set ${BRIDGE} up`,
    `link set ${BRIDGE} alias "${natMark(net)}"`,
  ]);
}

/** Takes the bridge and its NAT rules down; refuses while containers are plugged into it. */
export function removeBridge(opts: { force?: boolean } = {}): { removed: boolean } {
  const dev = `/sys/class/net/${BRIDGE}`;
  let ports: string[] = [];
  try {
    ports = readdirSync(join(dev, 'brif'));
  } catch {
    /* no bridge (or not a bridge) */
  }
  if (ports.length > 0 && !opts.force) {
    throw new TsdockError(
      `bridge ${BRIDGE} is in use by ${ports.length} container network interface(s)`,
      'stop the containers and builds using it first (or pass --force)',
    );
  }
  const existed = existsSync(dev);
  if (existed) ipBatch([`link del ${BRIDGE}`]);
  removeNat(BRIDGE);
  return { removed: existed };
}

/** Host-side veth name for a container (IFNAMSIZ is 16). */
export function vethName(id: string): string {
  return `tsv${id.slice(0, 11)}`;
}

/** Moves a veth peer into the container (pid) as eth0 and plugs the host end into the bridge. */
export function attachVeth(id: string, pid: number, veth = vethName(id)): void {
  ipBatch([
    `link add ${veth} type veth peer name eth0 netns ${pid}`,
    `link set ${veth} master ${BRIDGE} up`,
  ]);
}

/** Starts the userland proxies for published ports; close() stops them. */
export async function publishPorts(
  ports: PortMapping[],
  containerIp: string,
): Promise<{ close(): void }> {
  const servers: Server[] = [];
  try {
    for (const p of ports) {
      const server = createServer((client) => {
        const upstream = connect(p.containerPort, containerIp);
        client.pipe(upstream).pipe(client);
        const end = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', end);
        upstream.on('error', end);
        client.on('close', end);
        upstream.on('close', end);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) =>
          reject(
            new TsdockError(
              `cannot publish ${p.hostIp}:${p.hostPort}: ${err.code ?? err.message}`,
              'the port is in use or the address is not local',
            ),
          ),
        );
        server.listen(p.hostPort, p.hostIp, () => resolve());
      });
      servers.push(server);
    }
  } catch (err) {
    servers.forEach((s) => s.close());
    throw err;
  }
  return { close: () => servers.forEach((s) => s.close()) };
}
