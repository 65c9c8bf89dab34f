// The resolver files a container (or a build's RUN) gets, as docker makes them.
// resolv.conf: the host's (/run/systemd/resolve/resolv.conf instead when /etc/resolv.conf names
// only systemd-resolved's 127.0.0.53), with loopback nameservers removed, since they do not
// exist inside the container's network namespace, and IPv6 ones too (the bridge is IPv4 only);
// when no nameserver is left, Google's public resolvers (docker's libnetwork resolvconf
// FilterResolvDNS does exactly this). With the host network the host's file is used unchanged.
// hosts: localhost lines, the container's own name, then --add-host entries.
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { InvalidInputError } from '../shared/errors.js';

const SYSTEMD_STUB = '127.0.0.53';
const SYSTEMD_RESOLV = '/run/systemd/resolve/resolv.conf';
const DEFAULT_DNS = ['nameserver 8.8.8.8', 'nameserver 8.8.4.4'];

/** Nameserver addresses listed in a resolv.conf text (comments ignored). */
export function nameservers(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '');
    const m = /^\s*nameserver\s+(\S+)\s*$/.exec(line);
    if (m && isIP(m[1]!.split('%')[0]!)) out.push(m[1]!);
  }
  return out;
}

function isLoopback(ns: string): boolean {
  return /^127\./.test(ns) || ns === '::1';
}

/** docker's FilterResolvDNS (IPv6 disabled): loopback and IPv6 nameservers out, defaults if none left. */
export function filterResolvConf(text: string): string {
  const kept = text
    .split('\n')
    .filter((line) => {
      const m = /^nameserver\s+(\S+)\s*$/.exec(line);
      if (!m) return true;
      return !isLoopback(m[1]!) && isIP(m[1]!.split('%')[0]!) !== 6;
    })
    .join('\n');
  if (nameservers(kept).length > 0) return kept;
  return `${kept}${kept === '' || kept.endsWith('\n') ? '' : '\n'}${DEFAULT_DNS.join('\n')}\n`;
}

/** The host resolv.conf docker would start from ('' when the host has none). */
export function hostResolvConf(path = '/etc/resolv.conf'): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return '';
  }
  const ns = nameservers(text);
  if (ns.length === 1 && ns[0] === SYSTEMD_STUB && existsSync(SYSTEMD_RESOLV)) {
    try {
      return readFileSync(SYSTEMD_RESOLV, 'utf8');
    } catch {
      /* fall back to the stub's file */
    }
  }
  return text;
}

/** resolv.conf for a network mode: the host's as is for host, filtered otherwise. */
export function containerResolvConf(network: 'host' | 'bridge' | 'none'): string {
  const host = hostResolvConf();
  return network === 'host' ? host : filterResolvConf(host);
}

export interface ExtraHost {
  name: string;
  ip: string;
}

/**
 * `--add-host name:ip` (docker's syntax; `name=ip` too, IPv6 addresses with or without brackets,
 * and docker's `host-gateway`: the bridge's own address, given by `gateway`).
 */
export function parseExtraHost(value: string, gateway: () => string): ExtraHost {
  const sep = /^[^:=]+[:=]/.exec(value)?.[0];
  const name = sep?.slice(0, -1) ?? '';
  const given = value.slice(sep?.length ?? 0).replace(/^\[(.*)\]$/, '$1');
  const ip = given === 'host-gateway' ? gateway() : given;
  if (!sep || !/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/.test(name) || !isIP(ip)) {
    throw new InvalidInputError(
      `invalid --add-host "${value}"`,
      'use --add-host name:ip, e.g. --add-host db.local:10.0.0.5',
    );
  }
  return { name, ip };
}

/** /etc/hosts: localhost, the own name (when given) and extra hosts, in docker's order. */
export function hostsFile(
  own: { name: string; ip: string } | undefined,
  extra: ExtraHost[],
): string {
  let text = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';
  for (const h of extra) text += `${h.ip}\t${h.name}\n`;
  if (own?.name) text += `${own.ip}\t${own.name}\n`;
  return text;
}
