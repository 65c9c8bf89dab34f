// Runs every benchmark, one after the other (they share the machine's two cores), each side by
// side with its peer tools, and writes what they print to bench/results.md under the date and
// the machine they ran on. A benchmark that fails is reported in the file and makes the exit
// code non-zero; the others still run. Usage: node dist/bench/run-all.js [NAME...] (e.g. build)
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

interface Bench {
  name: string;
  title: string;
  /** The script prints a markdown table (else its output goes in a code block). */
  markdown: boolean;
  args?: string[];
}

const BENCHES: Bench[] = [
  { name: 'registry', title: 'Registry: tsregistry vs the reference registry', markdown: true },
  {
    name: 'login-flood',
    title: 'Registry under a wrong-password flood: tsregistry vs the reference registry',
    markdown: true,
  },
  {
    name: 'registry-metadata',
    title: 'Registry metadata: LevelDB and PostgreSQL vs the reference registry',
    markdown: true,
  },
  {
    name: 'registry-proxy',
    title: 'Pull-through cache: tsregistry proxy vs the reference registry proxy',
    markdown: true,
  },
  {
    name: 'registry-workers',
    title: 'Registry under concurrency: workers on PostgreSQL vs the reference registry',
    markdown: true,
  },
  {
    name: 'registry-s3',
    title: 'Registry on S3 storage (radosgw): tsregistry vs the reference registry',
    markdown: true,
  },
  {
    name: 'registry-replicas',
    title: 'Registry replicas behind HAProxy (1, 2, 3) on PostgreSQL vs the reference registry',
    markdown: true,
  },
  {
    name: 'push-pull',
    title: 'Client: tspush/tspull vs skopeo (reference registry)',
    markdown: false,
  },
  {
    name: 'registry-ui',
    title: 'Web console: list pages painted in headless Chromium vs skopeo list-tags',
    markdown: true,
  },
  { name: 'build', title: 'Builder: tsbuild vs buildah and docker BuildKit', markdown: true },
  {
    name: 'build-emulated',
    title: 'Builder, foreign platform under QEMU: tsbuild vs docker BuildKit',
    markdown: true,
  },
  {
    name: 'build-many-files',
    title: 'Builder: a 50,000-file context, tsbuild vs docker BuildKit',
    markdown: true,
  },
  { name: 'run-start', title: 'Runner: start-to-exit of `true`', markdown: false },
  {
    name: 'rootless',
    title: 'Rootless: tsrun and a cached tsbuild as a user vs as root, and vs rootless podman',
    markdown: false,
  },
  { name: 'cli-start', title: 'Command start-up: `tsimages --help`', markdown: true },
  { name: 'gzip', title: 'Layer compression: block-parallel gzip', markdown: false },
];

function runOne(b: Bench): Promise<{ code: number; out: string }> {
  const script = fileURLToPath(new URL(`./${b.name}.js`, import.meta.url));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...(b.args ?? [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      process.stdout.write(c);
    });
    child.stderr.on('data', (c: Buffer) => process.stderr.write(c));
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

function machine(): string {
  const cpu = cpus();
  const gib = (totalmem() / 2 ** 30).toFixed(0);
  return `${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ${gib} GiB, Linux ${release()}, Node ${process.version}`;
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const unknown = only.filter((n) => !BENCHES.some((b) => b.name === n));
  if (unknown.length) {
    console.error(
      `run-all: no benchmark named ${unknown.join(', ')}: use ${BENCHES.map((b) => b.name).join(', ')}`,
    );
    process.exit(125);
  }
  const picked = only.length ? BENCHES.filter((b) => only.includes(b.name)) : BENCHES;
  const started = new Date();
  const sections: string[] = [];
  let failed = 0;
  for (const b of picked) {
    console.log(`\n== ${b.title}`);
    const t0 = performance.now();
    const { code, out } = await runOne(b);
    const secs = ((performance.now() - t0) / 1000).toFixed(0);
    if (code !== 0) failed++;
    const body = b.markdown ? out.trim() : '```\n' + out.trim() + '\n```';
    const status = code === 0 ? `${secs} s` : `FAILED (exit ${code}) after ${secs} s`;
    sections.push(
      `<!-- bench:${b.name} -->\n## ${b.title}\n\n\`node dist/bench/${b.name}.js\`: ${status} (${started.toISOString().slice(0, 10)})\n\n${body}\n<!-- /bench:${b.name} -->\n`,
    );
  }
  const file = fileURLToPath(new URL('../../bench/results.md', import.meta.url));
  // a partial run (names given) replaces only its own sections of the file
  const kept = new Map<string, string>();
  if (only.length && existsSync(file)) {
    const re = /<!-- bench:([\w-]+) -->\n[\s\S]*?<!-- \/bench:\1 -->\n/g;
    for (const m of readFileSync(file, 'utf8').matchAll(re)) kept.set(m[1]!, m[0]);
  }
  picked.forEach((b, i) => kept.set(b.name, sections[i]!));
  const body = BENCHES.map((b) => kept.get(b.name)).filter((x): x is string => x !== undefined);
  const doc = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench\` (bench/run-all.ts); last run ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
    `Machine: ${machine()}. Each benchmark runs tsdock and its peer in the same run, on the same`,
    'input; ratios are what to read (absolute times move with whatever else the machine does).',
    '',
    ...body,
  ].join('\n');
  writeFileSync(file, doc);
  console.log(`\nwrote ${file}`);
  if (failed) process.exit(1);
}

main().catch((e: unknown) => {
  console.error(`run-all: ${(e as Error).message}`);
  process.exit(1);
});
