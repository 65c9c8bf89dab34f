// The reference workflow (the README's walk-through) as a sequence of checked steps: registry with token
// auth, build, images/inspect, run with a published port, exec, namespaces, container networking,
// commit/login/push/rmi/pull/run, volumes and cgroup limits. Used by `tsdemo` and the e2e test.
import { mkdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TsdockError } from '../../shared/errors.js';
import { startDemoRegistry, type DemoRegistry } from './demo-registry.js';
import { check, repoRoot, Tools } from './run-tools.js';
import { checkCgroupLimits, ensureBusybox, httpGet } from './workflow-checks.js';

export interface WorkflowOptions {
  /** $TSDOCK_ROOT for every tool. */
  root: string;
  /** $TSDOCK_CONFIG (credentials). */
  configDir: string;
  registryPort: number;
  /** Host port published to the app's port 80 (and hostPort+1 for the second container). */
  hostPort: number;
  /** Where the `-v DIR:/data` volume lives. */
  dataDir: string;
  log?: (line: string) => void;
  /** Leave the registry running (the caller stops it with result.registry.stop()). */
  keepRegistry?: boolean;
}

export interface WorkflowResult {
  registry: DemoRegistry;
  /** The image committed from p1 and pushed: `127.0.0.1:PORT/team/p1:v2`. */
  pushedRef: string;
  greeting: string;
  greetingNamed: string;
  hostname: string;
  /** Host pid of p1's PID 1 and the namespaces that differ from the host's. */
  pid: number;
  namespaces: string[];
  pulledOutput: string;
  volumeOutput: string;
  cgroup: { cpuQuota: number; cpuPeriod: number; memoryLimit: number };
  steps: string[];
}

const CONTAINERS = ['p1', 'p1-named', 'p1-limits'];

export async function runReferenceWorkflow(opts: WorkflowOptions): Promise<WorkflowResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const env = { ...process.env, TSDOCK_ROOT: opts.root, TSDOCK_CONFIG: opts.configDir };
  const tools = new Tools(env, log);
  const steps: string[] = [];
  const step = (title: string) => {
    steps.push(title);
    log(`\n== ${steps.length}. ${title}`);
  };
  const app = join(repoRoot(), 'fixtures', 'example-app');
  let registry: DemoRegistry | undefined;
  const r: Partial<WorkflowResult> = { steps };
  try {
    step('Start the registry (token auth)');
    registry = await startDemoRegistry(tools, opts.registryPort);
    r.registry = registry;
    for (const c of CONTAINERS) tools.run('tsrm', ['-f', c], { allowFail: true, quiet: true });

    step('Make the offline busybox base image');
    ensureBusybox(tools, env, opts.root);

    step('Build the example app');
    tools.run('tsbuild', ['--progress', 'plain', '-t', 'p1:v1', app]);

    step('List and inspect the image');
    const images = tools.run('tsimages', []).stdout;
    log(images.trimEnd());
    const row = images.split('\n').find((l) => /^p1\s+v1\s/.test(l)) ?? '';
    check(
      /\d+(\.\d+)?\s*[kMG]?B\b/.test(row) && /ago|now/i.test(row),
      'tsimages lists p1:v1 with size and age',
      images,
    );
    const cfg = JSON.parse(tools.run('tsinspect', ['p1:v1']).stdout) as [
      { Config: { Env: string[]; Cmd: string[]; ExposedPorts?: object } },
    ];
    check(
      cfg[0].Config.Env.includes('NAME=World') && cfg[0].Config.Cmd[0] === 'httpd',
      'tsinspect p1:v1 shows ENV NAME=World and CMD httpd',
      JSON.stringify(cfg[0].Config),
    );
    log(
      `  Config.Cmd: ${JSON.stringify(cfg[0].Config.Cmd)}  Env: ${JSON.stringify(cfg[0].Config.Env)}`,
    );

    step('Run it with a published port');
    tools.run('tsrun', ['--name', 'p1', '-d', '-p', `${opts.hostPort}:80`, 'p1:v1']);
    r.hostname = tools.run('tsexec', ['p1', 'hostname']).stdout.trim();
    r.greeting = await httpGet(`http://127.0.0.1:${opts.hostPort}/`);
    log(r.greeting.trimEnd());
    check(
      r.greeting.includes('Hello World!') && r.greeting.includes(r.hostname),
      `GET :${opts.hostPort} greets World and shows hostname ${r.hostname}`,
      r.greeting,
    );

    step('A second container with -e NAME=tsdock');
    tools.run('tsrun', [
      '--name',
      'p1-named',
      '-d',
      '-e',
      'NAME=tsdock',
      '-p',
      `${opts.hostPort + 1}:80`,
      'p1:v1',
    ]);
    r.greetingNamed = await httpGet(`http://127.0.0.1:${opts.hostPort + 1}/`);
    log(r.greetingNamed.trimEnd());
    check(
      r.greetingNamed.includes('Hello tsdock!'),
      'the second container greets tsdock',
      r.greetingNamed,
    );
    tools.run('tsrm', ['-f', 'p1-named']);

    step('The app is PID 1 in its own namespaces');
    const ps = tools.run('tsexec', ['p1', 'ps']).stdout;
    log(ps.trimEnd());
    check(
      ps.split('\n').some((l) => /^\s*1\s+.*httpd/.test(l)),
      'tsexec p1 ps shows httpd as PID 1',
      ps,
    );
    r.pid = Number(tools.run('tsinspect', ['--format', '{{.State.Pid}}', 'p1']).stdout.trim());
    check(r.pid > 1, 'tsinspect --format {{.State.Pid}} gives a host pid', String(r.pid));
    r.namespaces = ['pid', 'mnt', 'uts', 'net'].filter(
      (ns) => readlinkSync(`/proc/${r.pid}/ns/${ns}`) !== readlinkSync(`/proc/self/ns/${ns}`),
    );
    log(`  /proc/${r.pid}/ns: ${r.namespaces.join(', ')} differ from the host's`);
    check(
      r.namespaces.length === 4,
      'pid, mnt, uts and net namespaces differ from the host',
      r.namespaces.join(','),
    );

    step("Another container joins p1's network");
    const joined = tools.run('tsrun', [
      '--rm',
      '--net',
      'container:p1',
      'busybox',
      'wget',
      '-qO-',
      'http://127.0.0.1:80/',
    ]).stdout;
    log(joined.trimEnd());
    check(
      joined.includes('Hello World!'),
      'a --net container:p1 container reaches the app on localhost',
      joined,
    );

    step('Commit a change, log in, push, remove, pull, run');
    r.pushedRef = `${registry.host}/team/p1:v2`;
    tools.run('tsexec', ['p1', 'sh', '-c', 'echo changed > /app/x']);
    tools.run('tscommit', ['p1', r.pushedRef]);
    tools.run('tslogin', ['-u', registry.username, '--password-stdin', registry.host], {
      input: registry.password + '\n',
    });
    tools.run('tspush', ['--progress', 'plain', r.pushedRef]);
    tools.run('tsrmi', [r.pushedRef]);
    check(
      tools.run('tsinspect', ['--type', 'image', r.pushedRef], { allowFail: true, quiet: true })
        .status !== 0,
      'tsrmi removed the image',
      r.pushedRef,
    );
    tools.run('tspull', ['--progress', 'plain', r.pushedRef]);
    r.pulledOutput = tools.run('tsrun', ['--rm', r.pushedRef, 'cat', '/app/x']).stdout;
    log(r.pulledOutput.trimEnd());
    check(r.pulledOutput.trim() === 'changed', 'the pulled image has the change', r.pulledOutput);

    step('A volume persists across containers');
    const data = join(opts.dataDir, 'data');
    rmSync(data, { recursive: true, force: true });
    mkdirSync(data, { recursive: true });
    tools.run('tsrun', [
      '--rm',
      '-v',
      `${data}:/data`,
      'busybox',
      'sh',
      '-c',
      'echo persisted > /data/note',
    ]);
    r.volumeOutput = tools.run('tsrun', [
      '--rm',
      '-v',
      `${data}:/data`,
      'busybox',
      'cat',
      '/data/note',
    ]).stdout;
    log(r.volumeOutput.trimEnd());
    check(
      r.volumeOutput.trim() === 'persisted' &&
        readFileSync(join(data, 'note'), 'utf8').trim() === 'persisted',
      'the second container reads what the first wrote',
      r.volumeOutput,
    );

    step('CPU and memory limits are in the cgroup');
    tools.run('tsrun', [
      '--name',
      'p1-limits',
      '-d',
      '--cpu-period=100000',
      '--cpu-quota=20000',
      '-m',
      '64m',
      'p1:v1',
    ]);
    r.cgroup = checkCgroupLimits(tools);
    log(
      `  cpu.cfs_period_us=${r.cgroup.cpuPeriod} cpu.cfs_quota_us=${r.cgroup.cpuQuota} memory limit=${r.cgroup.memoryLimit}`,
    );

    step('Clean up');
    for (const c of CONTAINERS) tools.run('tsrm', ['-f', c], { allowFail: true });
    if (!opts.keepRegistry) await registry.stop();
    log('\nThe reference workflow passed.');
    return r as WorkflowResult;
  } catch (err) {
    for (const c of CONTAINERS) tools.run('tsrm', ['-f', c], { allowFail: true, quiet: true });
    await registry?.stop();
    if (err instanceof TsdockError) throw err;
    throw new TsdockError(`step "${steps.at(-1)}": ${(err as Error).message}`);
  }
}
