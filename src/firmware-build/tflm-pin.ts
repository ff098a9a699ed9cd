/**
 * The one TensorFlow Lite Micro for Arduino this project was checked against:
 * tflite-micro-arduino-examples at commit 7948b85 (2023-12-21). runtime_tflm.cc's
 * use of the API and tflm-arena.ts's arena formula were measured on it, so the
 * library is installed at that commit, not at the repository's HEAD.
 *
 * An installed copy keeps no .git (arduino-cli deletes it) and its
 * library.properties says `version=2.4.0-ALPHA` at every commit, so neither
 * tells which commit it is. Its content does: the git object ids of `src/` (a
 * tree) and of `library.properties` (a blob), computed here exactly as git
 * computes them, must equal the commit's. Anyone can check the two ids with
 * `git ls-tree 7948b85 src library.properties` in a clone of the repository.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface TflmLibraryPin {
  /** The library's name in its library.properties. */
  readonly name: string;
  readonly repository: string;
  readonly gitUrl: string;
  /** Full commit id (go-git, behind `lib install --git-url URL#REF`, resolves full ids reliably). */
  readonly commit: string;
  /** Git tree id of `src/` at that commit. */
  readonly srcTree: string;
  /** Git blob id of `library.properties` at that commit. */
  readonly propertiesBlob: string;
}

export const TFLM_LIBRARY_PIN: TflmLibraryPin = {
  name: 'Arduino_TensorFlowLite',
  repository: 'tflite-micro-arduino-examples',
  gitUrl: 'https://github.com/tensorflow/tflite-micro-arduino-examples.git',
  commit: '7948b85e020470a30a83bf00e10fc43b486bfcba',
  srcTree: '6aebd0458916bf0f9a5dada72e0abcf0ec499c68',
  propertiesBlob: '75fe330081a8ea4a4a93d87aaf233686e6aed483',
};

export const shortCommit = (pin: TflmLibraryPin): string => pin.commit.slice(0, 7);

/** "tflite-micro-arduino-examples@7948b85": how the pin is named in output and in the sketch. */
export function pinLabel(pin: TflmLibraryPin = TFLM_LIBRARY_PIN): string {
  return `${pin.repository}@${shortCommit(pin)}`;
}

/** The argument of `arduino-cli lib install --git-url` that installs exactly the pinned commit. */
export function pinnedGitUrl(pin: TflmLibraryPin = TFLM_LIBRARY_PIN): string {
  return `${pin.gitUrl}#${pin.commit}`;
}

/** GitHub's zip of the pinned commit, for the Arduino IDE's "Add .ZIP Library". */
export function pinnedZipUrl(pin: TflmLibraryPin = TFLM_LIBRARY_PIN): string {
  return `${pin.gitUrl.replace(/\.git$/, '')}/archive/${pin.commit}.zip`;
}

/** The git blob id of a file's bytes: sha1("blob <length>\0" + bytes). */
export function gitBlobId(bytes: Uint8Array): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/**
 * The git tree id of a folder, as `git add -A && git write-tree` would compute it
 * for the folder's content, with every file recorded as a regular non-executable
 * file (mode 100644: every file of the pinned src/ is one, and a zip unpacked by
 * the IDE may lose the executable bit anyway). Empty folders are left out, as git
 * does; null when the folder holds no file at all.
 */
export async function gitTreeId(dir: string): Promise<string | null> {
  const entries: { name: string; sortKey: string; mode: string; id: string }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      const id = await gitTreeId(p);
      if (id !== null) entries.push({ name: entry.name, sortKey: `${entry.name}/`, mode: '40000', id });
    } else if (entry.isFile()) {
      entries.push({ name: entry.name, sortKey: entry.name, mode: '100644', id: gitBlobId(await readFile(p)) });
    }
  }
  if (entries.length === 0) return null;
  // git orders entries by name bytes, a folder's name taken with a trailing '/'.
  entries.sort((a, b) => Buffer.compare(Buffer.from(a.sortKey), Buffer.from(b.sortKey)));
  const body = Buffer.concat(
    entries.map((e) => Buffer.concat([Buffer.from(`${e.mode} ${e.name}\0`), Buffer.from(e.id, 'hex')])),
  );
  return createHash('sha1').update(`tree ${body.length}\0`).update(body).digest('hex');
}

export interface PinCheck {
  /** True when src/ and library.properties are byte for byte the pinned commit's. */
  readonly matches: boolean;
  readonly srcTree: string | null;
  readonly propertiesBlob: string | null;
}

/** Compares an installed library folder with the pin by content. */
export async function checkLibraryPin(libraryDir: string, pin: TflmLibraryPin = TFLM_LIBRARY_PIN): Promise<PinCheck> {
  let srcTree: string | null = null;
  let propertiesBlob: string | null = null;
  try {
    srcTree = await gitTreeId(join(libraryDir, 'src'));
  } catch {
    srcTree = null;
  }
  try {
    propertiesBlob = gitBlobId(await readFile(join(libraryDir, 'library.properties')));
  } catch {
    propertiesBlob = null;
  }
  return { matches: srcTree === pin.srcTree && propertiesBlob === pin.propertiesBlob, srcTree, propertiesBlob };
}

/**
 * TML_RUNTIME_VERSION of a sketch: "native", or "tflm <what TFLM it is built
 * with>": the pin when that is what is (or will be) installed, else what is known
 * of the library actually used.
 */
export function runtimeVersion(runtime: 'native' | 'tflm', library?: { version: string; matchesPin: boolean }): string {
  if (runtime === 'native') return 'native';
  if (!library || library.matchesPin) return `tflm ${pinLabel()}`;
  return `tflm ${TFLM_LIBRARY_PIN.name}@${library.version || 'unknown'} (not ${shortCommit(TFLM_LIBRARY_PIN)})`;
}
