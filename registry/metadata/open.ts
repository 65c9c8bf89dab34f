// Picks and opens the MetadataStore the config asks for: PostgreSQL when `metadata.postgres` is
// set (loaded only then), else the embedded LevelDB under `<root>/meta`.
import { join } from 'node:path';
import type { RegistryConfig } from '../config.js';
import { LevelMetadataStore } from './level-store.js';
import type { MetadataStore } from './store.js';

export async function openMetadataStore(
  root: string,
  metadata: RegistryConfig['metadata'],
): Promise<MetadataStore> {
  let store: MetadataStore;
  if (metadata?.postgres) {
    const { PostgresMetadataStore } = await import('./postgres/postgres-store.js');
    store = new PostgresMetadataStore(metadata.postgres);
  } else store = new LevelMetadataStore(join(root, 'meta'));
  await store.open();
  return store;
}
