// One sandbox on the bridge, for callers that spawn the helper themselves (the builder's RUN):
// reserve an address (owner `build-<pid>-<random>`, stale once this process is gone), give the
// helper --ip/--sync-fd/--pid-file, then, once its PID 1 exists, move a veth into its network
// namespace and let it go on. The veth disappears with the namespace; release() frees the address.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import {
  allocateAddress,
  attachVeth,
  ensureBridge,
  gatewayOf,
  parseSubnet,
  releaseAddress,
} from './network.js';
import { waitForPidFile, type SandboxRequest } from './sandbox.js';
import { isRootless } from '../shared/rootless-env.js';
import { pastaEndpoint } from './rootless/pasta.js';

export interface BridgeEndpoint {
  /** the sandbox's address on the bridge */
  ip: string;
  /** what to merge into the SandboxRequest (the sync pipe is stdio fd 3 of the helper) */
  request: Pick<SandboxRequest, 'ip' | 'syncFd' | 'pidFile'>;
  /** plugs the veth in once the helper's PID 1 exists, then lets it continue */
  attach(child: ChildProcess): Promise<void>;
  release(): void;
}

/** Reserves an address on the (created if missing) bridge; `pidFile` is where the helper writes. */
export function bridgeEndpoint(pidFile: string): BridgeEndpoint {
  if (isRootless()) return pastaEndpoint(pidFile); // rootless hook: user-mode networking
  const net = parseSubnet();
  ensureBridge(net);
  const token = randomBytes(6).toString('hex');
  const owner = `build-${process.pid}-${token}`;
  const ip = allocateAddress(owner, net);
  return {
    ip,
    request: {
      ip: { address: ip, prefix: net.prefix, gateway: gatewayOf(net) },
      syncFd: 3,
      pidFile,
    },
    attach: async (child) => {
      const pid = await waitForPidFile(pidFile, child);
      attachVeth(owner, pid, `tsb${token.slice(0, 11)}`);
      const sync = child.stdio[3] as Writable;
      sync.write('g');
      sync.end();
    },
    release: () => releaseAddress(ip, owner),
  };
}
