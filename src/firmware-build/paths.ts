/** Where the C sources live, resolved from this module (not from the cwd). */
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FIRMWARE_DIR = fileURLToPath(new URL('../../firmware/', import.meta.url));
