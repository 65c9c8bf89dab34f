// The StorageDriver contract (test/helpers/driver-contract.ts) on the filesystem and in-memory
// drivers; the S3 driver runs the same suite on radosgw (test/integration/registry-s3-driver).
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemDriver } from '../../registry/storage/drivers/filesystem/filesystem-driver.js';
import { InMemoryDriver } from '../../registry/storage/drivers/inmemory/inmemory-driver.js';
import { driverContract } from '../helpers/driver-contract.js';

driverContract({
  name: 'filesystem',
  make() {
    const root = mkdtempSync(join(tmpdir(), 'tsreg-drv-'));
    const walk = (d: string): string[] =>
      readdirSync(d, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)],
      );
    return {
      driver: new FilesystemDriver(root),
      leftovers: () => walk(root),
      cleanup: () => rmSync(root, { recursive: true, force: true }),
    };
  },
});

driverContract({
  name: 'inmemory',
  make() {
    const driver = new InMemoryDriver();
    return {
      driver,
      leftovers: async () => {
        const out: string[] = [];
        await driver.walk('/', (i) => void out.push(i.path));
        return out;
      },
      cleanup: () => {},
    };
  },
});
