// Typed Dockerfile instructions. Values are kept as written (unexpanded): variables are
// expanded at dispatch time with the stage's ARG/ENV state (see builder/plan/expand.ts).
import type { SourceLocation } from '../errors.js';
import type { Heredoc } from '../parse/dockerfile-parser.js';

interface Base extends SourceLocation {
  endLine: number;
  /** The instruction as written, keyword included (continuations joined). */
  original: string;
}

/** A command in exec form (`["a","b"]`) or shell form (`a b`, run through SHELL). */
export interface CommandLine {
  shellForm: boolean;
  /** Exec form: the argv. Shell form: one string, the command line. */
  args: string[];
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface FromInstruction extends Base {
  kind: 'FROM';
  image: string;
  /** Stage name from `AS name`, lower-cased. */
  name?: string;
  platform?: string;
}

export interface WorkdirInstruction extends Base {
  kind: 'WORKDIR';
  path: string;
}

export interface CopyInstruction extends Base {
  kind: 'COPY' | 'ADD';
  /** Sources as written; `<<EOF` sources name a heredoc in `heredocs`. */
  sources: string[];
  dest: string;
  heredocs: Heredoc[];
  from?: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  /** ADD --checksum=sha256:... for URL sources. */
  checksum?: string;
  exclude: string[];
  keepGitDir: boolean;
  parents: boolean;
}

export interface RunInstruction extends Base {
  kind: 'RUN';
  command: CommandLine;
  heredocs: Heredoc[];
  /** Raw `--mount` values (`type=cache,target=/x`), expanded and parsed at dispatch. */
  mounts: string[];
  network?: 'default' | 'none' | 'host';
  security?: 'sandbox' | 'insecure';
}

export interface EnvInstruction extends Base {
  kind: 'ENV';
  pairs: KeyValue[];
}

export interface ArgDecl {
  name: string;
  /** Default as written (expanded when the ARG is reached); undefined when there is none. */
  defaultValue?: string;
}

export interface ArgInstruction extends Base {
  kind: 'ARG';
  args: ArgDecl[];
}

export interface LabelInstruction extends Base {
  kind: 'LABEL';
  pairs: KeyValue[];
}

export interface ExposeInstruction extends Base {
  kind: 'EXPOSE';
  ports: string[];
}

export interface UserInstruction extends Base {
  kind: 'USER';
  user: string;
}

export interface VolumeInstruction extends Base {
  kind: 'VOLUME';
  paths: string[];
}

export interface CmdInstruction extends Base {
  kind: 'CMD' | 'ENTRYPOINT';
  command: CommandLine;
}

export interface ShellInstruction extends Base {
  kind: 'SHELL';
  shell: string[];
}

export interface StopsignalInstruction extends Base {
  kind: 'STOPSIGNAL';
  signal: string;
}

/** Durations in nanoseconds, as the image config stores them. */
export interface HealthcheckConfig {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export interface HealthcheckInstruction extends Base {
  kind: 'HEALTHCHECK';
  health: HealthcheckConfig;
}

export interface OnbuildInstruction extends Base {
  kind: 'ONBUILD';
  /** The trigger as stored in the image config (`RUN echo hi`). */
  expression: string;
  trigger: Instruction;
}

export interface MaintainerInstruction extends Base {
  kind: 'MAINTAINER';
  maintainer: string;
}

export type Instruction =
  | FromInstruction
  | WorkdirInstruction
  | CopyInstruction
  | RunInstruction
  | EnvInstruction
  | ArgInstruction
  | LabelInstruction
  | ExposeInstruction
  | UserInstruction
  | VolumeInstruction
  | CmdInstruction
  | ShellInstruction
  | StopsignalInstruction
  | HealthcheckInstruction
  | OnbuildInstruction
  | MaintainerInstruction;

export type InstructionKind = Instruction['kind'];

export const INSTRUCTION_KEYWORDS: readonly InstructionKind[] = [
  'FROM',
  'WORKDIR',
  'ADD',
  'COPY',
  'RUN',
  'ENV',
  'ARG',
  'LABEL',
  'EXPOSE',
  'USER',
  'VOLUME',
  'ENTRYPOINT',
  'CMD',
  'SHELL',
  'STOPSIGNAL',
  'HEALTHCHECK',
  'ONBUILD',
  'MAINTAINER',
];
