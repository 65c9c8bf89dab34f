// Container networking: none (own namespace, lo only), host, container:<name> (join another
// container's namespaces) and bridge: a host bridge `tsdock0` with an address from a
// configurable subnet (TSDOCK_SUBNET, default 172.31.0.0/16), one veth pair per container
// (host end on the bridge, peer moved into the container as eth0; the native helper sets its
// address and default route). The veth disappears with the container's network namespace.
// Published ports (-p) are a userland TCP proxy in the supervising process: it listens on
// hostIp:hostPort (127.0.0.1 unless given) and connects to the container's address. No NAT and
// no iptables: the bridge is host-only, traffic stays on this machine.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readlinkSync, symlinkSync, unlinkSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { join } from 'node:path';
import type { PortMapping } from './spec.js';
import { containersRoot } from './containers.js';
import { TsdockError } from '../shared/errors.js';

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
      if (!existsSync(join(dir, '..', owner))) {
        unlinkSync(join(dir, ip)); // its container is gone
        i--;
      }
    }
  }
  throw new TsdockError('no free address left in the container subnet', 'remove some containers');
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
      'bridge networking needs root and iproute2',
    );
  }
}

/** Creates the bridge once (idempotent). */
export function ensureBridge(net = parseSubnet()): void {
  if (existsSync(`/sys/class/net/${BRIDGE}`)) return;
  try {
    ipBatch([
      `link add ${BRIDGE} type bridge`,
      `addr add ${gatewayOf(net)}/${net.prefix} dev ${BRIDGE}`,
      `link set ${BRIDGE} up`,
    ]);
  } catch (err) {
    if (!existsSync(`/sys/class/net/${BRIDGE}`)) throw err; // lost a race: fine
  }
}

/** Host-side veth name for a container (IFNAMSIZ is 16). */
export function vethName(id: string): string {
  return `tsv${id.slice(0, 11)}`;
}

/** Moves a veth peer into the container (pid) as eth0 and plugs the host end into the bridge. */
export function attachVeth(id: string, pid: number): void {
  const veth = vethName(id);
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
