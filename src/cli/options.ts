/**
 * Flags shared by several commands, declared once so their names, defaults and
 * help text cannot drift between commands.
 */
import type { Options } from 'yargs';
import { DEFAULT_WINDOW } from '../device/link.ts';

export const dataOptions = {
  'data-dir': {
    type: 'string',
    describe:
      'Folder with the Fashion-MNIST IDX files (.gz or raw). Default: $TINYML_DATA_DIR, then the user cache, then /usr/share/datasets/fashion-mnist, then download',
  },
  'limit-train': { type: 'number', describe: 'Use only the first N training images' },
  'limit-test': { type: 'number', describe: 'Use only the first N test images' },
} as const satisfies Record<string, Options>;

export const modelDirOption = {
  model: {
    type: 'string',
    demandOption: true,
    describe: 'Model folder written by `tinyml train` (or a folder with a tfjs model.json)',
  },
} as const satisfies Record<string, Options>;

export const windowOption = {
  window: { type: 'number', default: DEFAULT_WINDOW, describe: 'Frames (input chunks and runs) kept in flight on the link' },
} as const satisfies Record<string, Options>;
