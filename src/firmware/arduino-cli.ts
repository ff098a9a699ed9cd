/**
 * Drives arduino-cli for the Arduino Nano 33 BLE Sense: find the executable, make
 * sure the mbed_nano core and (for --runtime tflm) the TFLM library are installed,
 * compile the assembled sketch and upload it.
 *
 * Versions: every call uses `--format json`, which 0.x understands and 1.x still
 * accepts (1.0 added `--json` and hid `--format`, arduino/arduino-cli#2587). The
 * JSON shapes differ: 0.36 wrapped `core list` in {"platforms": [...]} (fields
 * installed_version/latest_version instead of installed/latest) and `lib list` in
 * {"installed_libraries": [...]} (docs/UPGRADING.md, 0.36.0); both are parsed.
 * `compile` answers {compiler_out, compiler_err, builder_result: {executable_sections_size:
 * [{name: "text", size, max_size}, {name: "data", ...}]}, success, error} in 0.35 and
 * 1.x; the "Sketch uses N bytes ..." lines are parsed as a fallback.
 *
 * Every failure is a ToolError carrying arduino-cli's own error text.
 */
import { access, constants } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { execa } from 'execa';
import { ToolError, UsageError } from '../errors.ts';

export const NANO33BLE_FQBN = 'arduino:mbed_nano:nano33ble';
/** The platform (core) that provides NANO33BLE_FQBN; `arduino:mbed` is its deprecated predecessor. */
export const MBED_NANO_CORE = 'arduino:mbed_nano';

/**
 * TensorFlow Lite Micro for Arduino. Its library.properties says
 * `name=Arduino_TensorFlowLite`, `includes=TensorFlowLite.h`. It is NOT in the Arduino
 * Library Manager any more (removed at the TFLM maintainers' request,
 * arduino/library-registry#1748; tensorflow/tflite-micro#1419): the official way is
 * the GitHub repository, which arduino-cli installs with `lib install --git-url`
 * once unsafe installs are enabled.
 */
export const TFLM_LIBRARY_NAME = 'Arduino_TensorFlowLite';
export const TFLM_LIBRARY_GIT_URL = 'https://github.com/tensorflow/tflite-micro-arduino-examples.git';
/** Present in the GitHub library, absent from the old Library Manager releases (2.4.0-ALPHA and before). */
export const TFLM_LIBRARY_MARKER = 'src/tensorflow/lite/micro/micro_log.h';

const INSTALL_HINT =
  "install it with 'curl -fsSL https://raw.githubusercontent.com/arduino/arduino-cli/master/install.sh | BINDIR=~/.local/bin sh' " +
  '(or unpack a release from https://github.com/arduino/arduino-cli/releases onto PATH), or pass --arduino-cli PATH';

/** Environment for every call: no "new version available" check (it goes online and writes to stderr). */
const QUIET_ENV = { ARDUINO_UPDATER_ENABLE_NOTIFICATION: 'false' };

export interface FindArduinoCliOptions {
  /** An explicit path (from --arduino-cli); must be an executable file. */
  readonly explicit?: string;
  /** The search path; default process.env.PATH. */
  readonly pathEnv?: string;
}

/** The absolute path of arduino-cli, or a one-line error that says how to install it. */
export async function findArduinoCli(options: FindArduinoCliOptions = {}): Promise<string> {
  if (options.explicit !== undefined) {
    const p = resolve(options.explicit);
    if (!(await isExecutable(p))) throw new UsageError(`--arduino-cli ${options.explicit}: not an executable file; ${INSTALL_HINT}`);
    return p;
  }
  const names = process.platform === 'win32' ? ['arduino-cli.exe', 'arduino-cli.cmd', 'arduino-cli'] : ['arduino-cli'];
  for (const dir of (options.pathEnv ?? process.env.PATH ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    for (const name of names) {
      const p = join(dir, name);
      if (await isExecutable(p)) return p;
    }
  }
  throw new ToolError(`arduino-cli is not on PATH: ${INSTALL_HINT}`, 'arduino-cli', '');
}

async function isExecutable(p: string): Promise<boolean> {
  try {
    await access(p, process.platform === 'win32' ? constants.F_OK : constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `cli args`; a non-zero exit is a ToolError with arduino-cli's message. */
async function run(cli: string, args: readonly string[], env: Record<string, string> = {}): Promise<RunResult> {
  const result = await execa(cli, args, { reject: false, env: { ...QUIET_ENV, ...env }, stdin: 'ignore' });
  const stdout = String(result.stdout ?? '');
  const stderr = String(result.stderr ?? '');
  if (result.failed) {
    const verb = args[0] === 'core' || args[0] === 'lib' ? args.slice(0, 2) : args.slice(0, 1);
    const what = `arduino-cli ${verb.join(' ')}`;
    const why = result.exitCode === undefined ? (result.originalMessage ?? 'could not run') : `exit code ${result.exitCode}`;
    throw new ToolError(`${what} failed (${why})`, 'arduino-cli', errorText(stdout, stderr), { cause: result });
  }
  return { stdout, stderr };
}

/** The useful part of a failed call: the JSON `error` and `compiler_err`, else stderr, else stdout. */
function errorText(stdout: string, stderr: string): string {
  const json = tryJson(stdout);
  if (json && typeof json === 'object' && !Array.isArray(json)) {
    const o = json as Record<string, unknown>;
    const parts = [o.compiler_err, o.error].filter((x): x is string => typeof x === 'string' && x.trim() !== '');
    if (parts.length > 0) return [...parts, stderr].join('\n').trim();
  }
  return (stderr.trim() || stdout).trim();
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function parseJson(text: string, what: string): unknown {
  if (text.trim() === '') return null;
  const json = tryJson(text);
  if (json === undefined) throw new ToolError(`arduino-cli ${what} did not answer JSON`, 'arduino-cli', text.slice(0, 500));
  return json;
}

// ---------------------------------------------------------------- cores

export interface InstalledPlatform {
  readonly id: string;
  /** '' when listed but not installed. */
  readonly installedVersion: string;
}

/** `core list --format json`, 0.x (array, `installed`) or >= 0.36 ({platforms}, `installed_version`). */
export function parseCoreList(stdout: string): InstalledPlatform[] {
  const json = parseJson(stdout, 'core list');
  const list = Array.isArray(json) ? json : (json as { platforms?: unknown } | null)?.platforms;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new ToolError('arduino-cli core list: unexpected JSON', 'arduino-cli', stdout.slice(0, 500));
  return list.map((p: Record<string, unknown>) => ({
    id: String(p.id ?? p.ID ?? ''),
    installedVersion: String(p.installed_version ?? p.installed ?? p.Installed ?? ''),
  }));
}

export interface EnsureCoreOptions {
  readonly cli: string;
  /** Default MBED_NANO_CORE. */
  readonly core?: string;
  /** Told before each slow step ("installing arduino:mbed_nano"). */
  readonly onStep?: (message: string) => void;
}

export interface CoreStatus {
  readonly id: string;
  readonly version: string;
  /** True when this call installed it. */
  readonly installed: boolean;
}

/** Installs the core when `core list` does not show it: `core update-index`, then `core install`. */
export async function ensureCore(options: EnsureCoreOptions): Promise<CoreStatus> {
  const { cli } = options;
  const id = options.core ?? MBED_NANO_CORE;
  const find = async () => parseCoreList((await run(cli, ['core', 'list', '--format', 'json'])).stdout).find((p) => p.id === id && p.installedVersion !== '');
  const present = await find();
  if (present) return { id, version: present.installedVersion, installed: false };
  options.onStep?.(`installing the Arduino core ${id} and its toolchain (once)`);
  await run(cli, ['core', 'update-index']);
  await run(cli, ['core', 'install', id]);
  const after = await find();
  if (!after) throw new ToolError(`arduino-cli core install ${id} succeeded but core list does not show it`, 'arduino-cli', '');
  return { id, version: after.installedVersion, installed: true };
}

// ---------------------------------------------------------------- libraries

export interface InstalledLibrary {
  readonly name: string;
  readonly version: string;
  /** '' when arduino-cli does not say. */
  readonly installDir: string;
}

/** `lib list --format json`, 0.x (array) or >= 0.36 ({installed_libraries}); entries are {library, release}. */
export function parseLibList(stdout: string): InstalledLibrary[] {
  const json = parseJson(stdout, 'lib list');
  const list = Array.isArray(json) ? json : (json as { installed_libraries?: unknown } | null)?.installed_libraries;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new ToolError('arduino-cli lib list: unexpected JSON', 'arduino-cli', stdout.slice(0, 500));
  return list.map((entry: { library?: Record<string, unknown> }) => {
    const lib = entry.library ?? {};
    return { name: String(lib.name ?? ''), version: String(lib.version ?? ''), installDir: String(lib.install_dir ?? '') };
  });
}

export interface EnsureTflmLibraryOptions {
  readonly cli: string;
  /** Default TFLM_LIBRARY_GIT_URL; a `#<ref>` suffix pins a commit or branch. */
  readonly gitUrl?: string;
  readonly onStep?: (message: string) => void;
}

export interface LibraryStatus {
  readonly name: string;
  readonly version: string;
  readonly installDir: string;
  readonly installed: boolean;
}

/**
 * Installs Arduino_TensorFlowLite from GitHub when `lib list` lacks it:
 * `lib install --git-url URL`, with unsafe installs enabled for that one call
 * through the environment (ARDUINO_LIBRARY_ENABLE_UNSAFE_INSTALL, and its older
 * alias ARDUINO_ENABLE_UNSAFE_LIBRARY_INSTALL) instead of `config set`, so the
 * user's arduino-cli.yaml is left alone. A library of that name from the retired
 * Library Manager (an older TFLM) is refused with how to replace it.
 */
export async function ensureTflmLibrary(options: EnsureTflmLibraryOptions): Promise<LibraryStatus> {
  const { cli } = options;
  const url = options.gitUrl ?? TFLM_LIBRARY_GIT_URL;
  const find = async () => parseLibList((await run(cli, ['lib', 'list', '--format', 'json'])).stdout).find((l) => l.name === TFLM_LIBRARY_NAME);
  const present = await find();
  if (present) {
    await checkTflmLibrary(present, url);
    return { ...present, installed: false };
  }
  options.onStep?.(`installing ${TFLM_LIBRARY_NAME} from ${url}`);
  await run(cli, ['lib', 'install', '--git-url', url], {
    ARDUINO_LIBRARY_ENABLE_UNSAFE_INSTALL: 'true',
    ARDUINO_ENABLE_UNSAFE_LIBRARY_INSTALL: 'true',
  });
  const after = await find();
  if (!after) throw new ToolError(`arduino-cli lib install --git-url ${url} succeeded but lib list does not show ${TFLM_LIBRARY_NAME}`, 'arduino-cli', '');
  await checkTflmLibrary(after, url);
  return { ...after, installed: true };
}

async function checkTflmLibrary(lib: InstalledLibrary, url: string): Promise<void> {
  if (!lib.installDir) return;
  try {
    await access(join(lib.installDir, TFLM_LIBRARY_MARKER));
  } catch {
    throw new UsageError(
      `${lib.installDir} holds an old ${TFLM_LIBRARY_NAME} (no ${TFLM_LIBRARY_MARKER}; the retired Library Manager release): ` +
        `remove that folder and rerun, or 'arduino-cli lib uninstall ${TFLM_LIBRARY_NAME}', so that ${url} is installed`,
    );
  }
}

// ---------------------------------------------------------------- compile

export interface SketchSizes {
  /** Program storage used (text + data + rodata, as the core's size recipe counts it) and its maximum. */
  readonly flash: number;
  readonly flashMax: number;
  /** Static RAM used (data + bss) and its maximum. */
  readonly ram: number;
  readonly ramMax: number;
}

const FLASH_RE = /Sketch uses (\d+) bytes \(\d+%\) of program storage space\. Maximum is (\d+) bytes\./;
const RAM_RE = /Global variables use (\d+) bytes \(\d+%\) of dynamic memory, leaving -?\d+ bytes for local variables\. Maximum is (\d+) bytes\./;

/** Sizes from `compile --format json` (builder_result.executable_sections_size) or its text lines; null if absent. */
export function parseCompileSizes(stdout: string): SketchSizes | null {
  const json = tryJson(stdout) as { builder_result?: { executable_sections_size?: unknown }; compiler_out?: unknown } | undefined;
  const sections = json?.builder_result?.executable_sections_size;
  if (Array.isArray(sections)) {
    const get = (name: string) => sections.find((s: { name?: unknown }) => s?.name === name) as { size?: number; max_size?: number } | undefined;
    const text = get('text');
    const data = get('data');
    if (text) return { flash: text.size ?? 0, flashMax: text.max_size ?? 0, ram: data?.size ?? 0, ramMax: data?.max_size ?? 0 };
  }
  const out = typeof json?.compiler_out === 'string' ? json.compiler_out : stdout;
  const f = FLASH_RE.exec(out);
  if (!f) return null;
  const r = RAM_RE.exec(out);
  return { flash: Number(f[1]), flashMax: Number(f[2]), ram: r ? Number(r[1]) : 0, ramMax: r ? Number(r[2]) : 0 };
}

export interface CompileSketchOptions {
  readonly cli: string;
  /** The sketch folder (its .ino has the folder's name). */
  readonly sketchDir: string;
  /** Default NANO33BLE_FQBN. */
  readonly fqbn?: string;
  /** arduino-cli's build folder (objects, kept between builds for speed). Outside the sketch folder. */
  readonly buildPath: string;
  /** Where the .bin/.hex/.elf are copied; upload's --input-dir. A folder of its own. */
  readonly outputDir: string;
  /** Extra `--build-property key=value`s. */
  readonly buildProperties?: readonly string[];
}

export interface CompileResult extends SketchSizes {
  readonly outputDir: string;
  /** What arduino-cli printed (compiler_out in JSON mode). */
  readonly log: string;
}

/** `arduino-cli compile --fqbn F --build-path B --output-dir O --format json SKETCH`, with the sizes it reports. */
export async function compileSketch(options: CompileSketchOptions): Promise<CompileResult> {
  const fqbn = options.fqbn ?? NANO33BLE_FQBN;
  const outputDir = resolve(options.outputDir);
  const args = ['compile', '--fqbn', fqbn, '--build-path', resolve(options.buildPath), '--output-dir', outputDir, '--format', 'json'];
  for (const p of options.buildProperties ?? []) args.push('--build-property', p);
  args.push(resolve(options.sketchDir));
  const { stdout } = await run(options.cli, args);
  const sizes = parseCompileSizes(stdout);
  if (!sizes) throw new ToolError('arduino-cli compile succeeded but reported no sketch size', 'arduino-cli', stdout.slice(0, 2000));
  const json = tryJson(stdout) as { compiler_out?: unknown } | undefined;
  return { ...sizes, outputDir, log: typeof json?.compiler_out === 'string' ? json.compiler_out : stdout };
}

// ---------------------------------------------------------------- upload

/**
 * Waits until a serial port exists again after the board reset, and returns its
 * path. Implemented by src/device/ports.ts (`waitForPort`); injected so this module
 * does not depend on the device layer.
 */
export type WaitForPort = (port: string, options: { readonly timeoutMs: number }) => Promise<string>;

export interface UploadSketchOptions {
  readonly cli: string;
  readonly port: string;
  /** Default NANO33BLE_FQBN. */
  readonly fqbn?: string;
  /** compileSketch's outputDir. */
  readonly inputDir: string;
  /** The sketch folder; lets older arduino-cli name the artifacts. */
  readonly sketchDir?: string;
  readonly waitForPort?: WaitForPort;
  /** For waitForPort; default 15 s (the bootloader, then USB enumeration). */
  readonly timeoutMs?: number;
}

export interface UploadResult {
  /** The port the sketch runs on: arduino-cli's updated_upload_port, else the one given. */
  readonly port: string;
  readonly log: string;
}

/**
 * `arduino-cli upload -p PORT --fqbn F --input-dir DIR --format json [SKETCH]`. arduino-cli
 * itself opens the port at 1200 baud to reset the board into its bootloader
 * (nano33ble.upload.use_1200bps_touch) and runs bossac. Then waits for the port.
 */
export async function uploadSketch(options: UploadSketchOptions): Promise<UploadResult> {
  const fqbn = options.fqbn ?? NANO33BLE_FQBN;
  const args = ['upload', '-p', options.port, '--fqbn', fqbn, '--input-dir', resolve(options.inputDir), '--format', 'json'];
  if (options.sketchDir) args.push(resolve(options.sketchDir));
  const { stdout, stderr } = await run(options.cli, args);
  const json = tryJson(stdout) as { stdout?: unknown; stderr?: unknown; updated_upload_port?: { address?: unknown } } | undefined;
  const updated = json?.updated_upload_port?.address ?? /New upload port: (\S+)/.exec(stdout)?.[1];
  let port = typeof updated === 'string' && updated !== '' ? updated : options.port;
  const log = json ? [json.stdout, json.stderr].filter((x) => typeof x === 'string').join('') : `${stdout}${stderr}`;
  if (options.waitForPort) port = await options.waitForPort(port, { timeoutMs: options.timeoutMs ?? 15_000 });
  return { port, log };
}
