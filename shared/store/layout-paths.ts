// The one place that builds paths inside the local store, an OCI image layout:
//
//   <root>/
//   ├── oci-layout                  {"imageLayoutVersion":"1.0.0"}
//   ├── index.json                  tags: manifests[] with org.opencontainers.image.ref.name
//   ├── index.json.lock             held (O_EXCL) while index.json is rewritten or gc sweeps
//   ├── blobs/<algo>/<hex>          content, only ever created by rename of a verified temp file
//   └── ingest/<random>             temp files of writers in flight (same filesystem as blobs/)
//
// Other tsdock state (containers, unpacked layers, build cache) lives beside these entries;
// OCI tools (skopeo, umoci) ignore what they do not know.
import { join } from 'node:path';
import { parseDigest, type Digest } from '../digest.js';

export const OCI_LAYOUT_FILE = 'oci-layout';
export const OCI_LAYOUT_VERSION = '1.0.0';
export const INDEX_FILE = 'index.json';

export class LayoutPaths {
  constructor(readonly root: string) {}

  get layoutFile(): string {
    return join(this.root, OCI_LAYOUT_FILE);
  }
  get indexFile(): string {
    return join(this.root, INDEX_FILE);
  }
  get indexLock(): string {
    return join(this.root, `${INDEX_FILE}.lock`);
  }
  get blobsDir(): string {
    return join(this.root, 'blobs');
  }
  get ingestDir(): string {
    return join(this.root, 'ingest');
  }
  algorithmDir(algorithm: string): string {
    return join(this.blobsDir, algorithm);
  }
  blob(digest: Digest | string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.blobsDir, algorithm, hex);
  }
}
