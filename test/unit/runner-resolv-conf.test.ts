// The resolver files and NAT rules as plain data: docker's resolv.conf filter (loopback and IPv6
// nameservers out, Google's resolvers when none is left), /etc/hosts, --add-host parsing, and
// the iptables-restore text of a bridge's chains.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  filterResolvConf,
  hostsFile,
  nameservers,
  parseExtraHost,
} from '../../runner/resolv-conf.js';
import { natChain, natRules } from '../../runner/nat.js';

test('loopback and IPv6 nameservers are dropped; the rest of the file is kept', () => {
  const host =
    'search corp.example\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver ::1\nnameserver fd00::1\noptions ndots:2\n';
  const out = filterResolvConf(host);
  assert.equal(out, 'search corp.example\nnameserver 10.0.0.2\noptions ndots:2\n');
  assert.deepEqual(nameservers(out), ['10.0.0.2']);
});

test('only loopback nameservers: docker falls back to 8.8.8.8 and 8.8.4.4', () => {
  const out = filterResolvConf('# systemd-resolved stub\nnameserver 127.0.0.53\noptions edns0\n');
  assert.deepEqual(nameservers(out), ['8.8.8.8', '8.8.4.4']);
  assert.match(out, /^options edns0$/m);
  assert.deepEqual(nameservers(filterResolvConf('')), ['8.8.8.8', '8.8.4.4']);
});

test('a file without loopback resolvers passes unchanged', () => {
  const host = 'nameserver 10.255.255.53\n';
  assert.equal(filterResolvConf(host), host);
});

test('hosts file: localhost, extra hosts, then the own name', () => {
  const text = hostsFile({ name: 'web', ip: '172.31.0.2' }, [{ name: 'db', ip: '10.0.0.5' }]);
  assert.equal(
    text,
    '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.0.0.5\tdb\n172.31.0.2\tweb\n',
  );
});

test('--add-host name:ip, name=ip, IPv6, host-gateway; bad input named', () => {
  const gw = () => '172.31.0.1';
  assert.deepEqual(parseExtraHost('db.local:10.0.0.5', gw), { name: 'db.local', ip: '10.0.0.5' });
  assert.deepEqual(parseExtraHost('db=10.0.0.5', gw), { name: 'db', ip: '10.0.0.5' });
  assert.deepEqual(parseExtraHost('v6:::1', gw), { name: 'v6', ip: '::1' });
  assert.deepEqual(parseExtraHost('v6:[fd00::2]', gw), { name: 'v6', ip: 'fd00::2' });
  assert.deepEqual(parseExtraHost('gw:host-gateway', gw), { name: 'gw', ip: '172.31.0.1' });
  for (const bad of ['nocolon', 'x:notanip', ':10.0.0.1', 'a b:10.0.0.1'])
    assert.throws(() => parseExtraHost(bad, gw), /invalid --add-host/);
});

test('NAT rules: one chain per bridge and table, masquerade out, nothing in', () => {
  const text = natRules('tsdock0', '172.31.0.0/16');
  assert.equal(natChain('tsdock0'), 'TSDOCK-tsdock0');
  assert.match(
    text,
    /^\*nat\n:TSDOCK-tsdock0 - \[0:0\]\n-A TSDOCK-tsdock0 -s 172\.31\.0\.0\/16 ! -o tsdock0 -j MASQUERADE\nCOMMIT$/m,
  );
  const filter = text.slice(0, text.indexOf('*nat'));
  assert.match(filter, /-o tsdock0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n/);
  assert.ok(
    filter.trim().split('\n').at(-2)!.endsWith('-o tsdock0 -j DROP'),
    'inbound dropped last',
  );
});
