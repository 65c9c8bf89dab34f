// Import and export of image archives, the library side of tsload / tssave / tsbuild --output:
// OCI image layout directories and tars, and `docker save` tars.
export {
  importLayout,
  importLayoutStream,
  type ImportOptions,
  type ImportedImage,
} from './layout-import.js';
export { exportLayout, type ExportFormat, type ExportOptions } from './layout-export.js';
