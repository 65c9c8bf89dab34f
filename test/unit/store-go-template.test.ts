// The Go text/template subset used by --format: fields, json, pipelines, range/if/with, trims.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidInputError } from '../../shared/errors.js';
import { renderTemplate } from '../../shared/go-template.js';

const data = {
  Id: 'sha256:abc',
  RepoTags: ['busybox:latest', 'bb:1'],
  Config: { Env: ['PATH=/bin', 'A=1'], Cmd: ['/bin/sh'], Labels: { b: '2', a: '1' }, User: '' },
  State: { Pid: 1234, Running: true },
  Size: 1088661,
};

test('fields and Go-style printing', () => {
  assert.equal(renderTemplate('{{.Id}}', data), 'sha256:abc');
  assert.equal(renderTemplate('pid={{.State.Pid}}\n', data), 'pid=1234\n');
  assert.equal(renderTemplate('{{.Config.Env}}', data), '[PATH=/bin A=1]');
  assert.equal(renderTemplate('{{.Config.Labels}}', data), 'map[a:1 b:2]');
  assert.equal(renderTemplate('{{.Nope}}', data), '<no value>');
  assert.equal(renderTemplate('{{.State.Running}} {{.Size}}', data), 'true 1088661');
});

test('functions and pipelines', () => {
  assert.equal(renderTemplate('{{json .Config.Cmd}}', data), '["/bin/sh"]');
  assert.deepEqual(JSON.parse(renderTemplate('{{json .Config}}', data)), data.Config);
  assert.equal(renderTemplate('{{.Config.Cmd | json}}', data), '["/bin/sh"]');
  assert.equal(renderTemplate('{{index .Config.Labels "a"}}', data), '1');
  assert.equal(renderTemplate('{{join .RepoTags ","}}', data), 'busybox:latest,bb:1');
  assert.equal(renderTemplate('{{len .RepoTags}} {{upper .Id}}', data), '2 SHA256:ABC');
  assert.equal(renderTemplate('{{printf "%s-%d" .Id .Size}}', data), 'sha256:abc-1088661');
  assert.equal(renderTemplate('{{(index .RepoTags 1)}}', data), 'bb:1');
  assert.equal(renderTemplate('{{json $.Id}}', data), '"sha256:abc"');
});

test('range, if, with, else and trim markers', () => {
  assert.equal(renderTemplate('{{range .RepoTags}}[{{.}}]{{end}}', data), '[busybox:latest][bb:1]');
  assert.equal(renderTemplate('{{range .Missing}}x{{else}}none{{end}}', data), 'none');
  assert.equal(renderTemplate('{{if .Config.User}}u{{else}}root{{end}}', data), 'root');
  assert.equal(renderTemplate('{{with .State}}{{.Pid}}{{end}}', data), '1234');
  assert.equal(renderTemplate('a  {{- .Id -}}  b', data), 'asha256:abcb');
  assert.equal(
    renderTemplate('{{range .RepoTags}}{{$.Id}} {{end}}', data),
    'sha256:abc sha256:abc ',
  );
  assert.equal(renderTemplate('{{if eq .Size 1088661}}big{{end}}', data), 'big');
});

test('malformed templates are InvalidInputError', () => {
  for (const bad of [
    '{{.Id',
    '{{range .RepoTags}}',
    '{{end}}',
    '{{nosuch .Id}}',
    '{{}}',
    '{{.Id.Sub}}',
  ]) {
    assert.throws(() => renderTemplate(bad, data), InvalidInputError, bad);
  }
});

test('variables: range with key/value, assignment, undefined variables refused', () => {
  const ports = {
    NetworkSettings: { Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }] } },
  };
  assert.equal(
    renderTemplate(
      '{{range $p, $conf := .NetworkSettings.Ports}}{{$p}} -> {{(index $conf 0).HostPort}}{{end}}',
      ports,
    ),
    '80/tcp -> 8080',
  );
  assert.equal(
    renderTemplate('{{range $i, $t := .RepoTags}}{{$i}}={{$t}} {{end}}', data),
    '0=busybox:latest 1=bb:1 ',
  );
  assert.equal(
    renderTemplate('{{$id := .Id}}{{range .RepoTags}}{{$id}} {{end}}', data),
    'sha256:abc sha256:abc ',
  );
  assert.equal(renderTemplate('{{with $s := .State}}{{$s.Pid}}{{end}}', data), '1234');
  assert.throws(() => renderTemplate('{{$nope}}', data), /undefined variable/);
});
