// Entry point of the detached container monitor (spawned by startDetached in monitor.ts): a file
// of its own so that bundled commands, which inline monitor.ts, never run it by accident.
import { monitorMain } from './monitor.js';

monitorMain(process.argv[2] ?? '').then(
  () => process.exit(0),
  () => process.exit(1),
);
