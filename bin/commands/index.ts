// Every command's CommandSpec, for `tsdock` (its help and shell completion): one line per command.
import type { CommandSpec } from '../../shared/cli.js';
import { tsrunCommand } from '../../runner/run-flags.js';
import { tsbuildCommand } from './tsbuild.js';
import { tscommitCommand } from './tscommit.js';
import { tsdemoCommand } from './tsdemo.js';
import { tsdockCommand } from './tsdock.js';
import { tsexecCommand } from './tsexec.js';
import { tsimagesCommand } from './tsimages.js';
import { tsinspectCommand } from './tsinspect.js';
import { tskillCommand } from './tskill.js';
import { tsloadCommand } from './tsload.js';
import { tsloginCommand } from './tslogin.js';
import { tslogoutCommand } from './tslogout.js';
import { tslogsCommand } from './tslogs.js';
import { tsnetworkCommand } from './tsnetwork.js';
import { tspsCommand } from './tsps.js';
import { tspullCommand } from './tspull.js';
import { tspushCommand } from './tspush.js';
import { tsregistryCommand } from './tsregistry.js';
import { tsrmCommand } from './tsrm.js';
import { tsrmiCommand } from './tsrmi.js';
import { tssaveCommand } from './tssave.js';
import { tsstopCommand } from './tsstop.js';
import { tstagCommand } from './tstag.js';

export const ALL_COMMANDS: readonly CommandSpec[] = [
  tsbuildCommand,
  tscommitCommand,
  tsdemoCommand,
  tsdockCommand,
  tsexecCommand,
  tsimagesCommand,
  tsinspectCommand,
  tskillCommand,
  tsloadCommand,
  tsloginCommand,
  tslogoutCommand,
  tslogsCommand,
  tsnetworkCommand,
  tspsCommand,
  tspullCommand,
  tspushCommand,
  tsregistryCommand,
  tsrmCommand,
  tsrmiCommand,
  tsrunCommand,
  tssaveCommand,
  tsstopCommand,
  tstagCommand,
];
