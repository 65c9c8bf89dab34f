// The AccessController used when the config has no auth section: everything is allowed.
import type { AccessController, Grant } from './access.js';

const ALL: Grant = { subject: '', can: () => true, allows: () => true };

export class AllowAll implements AccessController {
  async authorize(): Promise<Grant> {
    return ALL;
  }
}
