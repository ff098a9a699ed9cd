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
import { checkLibraryPin, pinLabel, pinnedGitUrl, shortCommit, TFLM_LIBRARY_PIN, type TflmLibraryPin } from './tflm-pin.ts';

export const NANO33BLE_FQBN = 'arduino:mbed_nano:nano33ble';
/** The platform (core) that provides NANO33BLE_FQBN; `arduino:mbed` is its deprecated predecessor. */
export const MBED_NANO_CORE = 'arduino:mbed_nano';

/**
 * TensorFlow Lite Micro for Arduino (TFLM_LIBRARY_PIN). Its library.properties says
 * `name=Arduino_TensorFlowLite`, `includes=TensorFlowLite.h`. It is NOT in the Arduino
 * Library Manager any more (removed at the TFLM maintainers' request,
 * arduino/library-registry#1748; tensorflow/tflite-micro#1419): the official way is
 * the GitHub repository, which arduino-cli installs with `lib install --git-url`
 * once unsafe installs are enabled, here at the commit tflm-pin.ts names.
 *
 * TFLM_LIBRARY_MARKER is present in the GitHub library and absent from the old
 * Library Manager releases (which said version 2.4.0-ALPHA as well).
 */
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
  throw new ArduinoCliNotFoundError(`arduino-cli is not on PATH: ${INSTALL_HINT}`);
}

/** arduino-cli is not on PATH. Typed, so a caller can add what it already did (the sketch it wrote). */
export class ArduinoCliNotFoundError extends ToolError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'arduino-cli', '', options);
  }
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
  /** The commit to install and compare with; default TFLM_LIBRARY_PIN (7948b85). */
  readonly pin?: TflmLibraryPin;
  readonly onStep?: (message: string) => void;
}

export interface LibraryStatus {
  readonly name: string;
  readonly version: string;
  readonly installDir: string;
  /** True when this call installed it. */
  readonly installed: boolean;
  /** Whether its src/ and library.properties are the pinned commit's, byte for byte. */
  readonly matchesPin: boolean;
  /** Git ids of what is installed (null when arduino-cli gave no folder to look in). */
  readonly srcTree: string | null;
}

/**
 * Installs Arduino_TensorFlowLite from GitHub at the pinned commit when `lib list`
 * lacks it: `lib install --git-url URL#COMMIT` (arduino-cli clones, checks the
 * commit out, drops .git), with unsafe installs enabled for that one call through
 * the environment (ARDUINO_LIBRARY_ENABLE_UNSAFE_INSTALL, and its older alias
 * ARDUINO_ENABLE_UNSAFE_LIBRARY_INSTALL) instead of `config set`, so the user's
 * arduino-cli.yaml is left alone.
 *
 * A library the user already has is never replaced: one from the retired Library
 * Manager (an older TFLM our adapter does not compile with) is refused with how
 * to replace it; any other copy is used as it is, and `matchesPin` says whether
 * it is the pinned commit (pinMismatchWarning words it for the user; the same
 * after an install, in case another copy of the library shadows ours).
 */
export async function ensureTflmLibrary(options: EnsureTflmLibraryOptions): Promise<LibraryStatus> {
  const { cli } = options;
  const pin = options.pin ?? TFLM_LIBRARY_PIN;
  const find = async () => parseLibList((await run(cli, ['lib', 'list', '--format', 'json'])).stdout).find((l) => l.name === pin.name);
  const present = await find();
  if (present) {
    await checkTflmLibrary(present, pin);
    return { ...present, installed: false, ...(await comparePin(present, pin)) };
  }
  options.onStep?.(`installing ${pin.name} from ${pin.gitUrl} at commit ${shortCommit(pin)} (once)`);
  await run(cli, ['lib', 'install', '--git-url', pinnedGitUrl(pin)], {
    ARDUINO_LIBRARY_ENABLE_UNSAFE_INSTALL: 'true',
    ARDUINO_ENABLE_UNSAFE_LIBRARY_INSTALL: 'true',
  });
  const after = await find();
  if (!after) throw new ToolError(`arduino-cli lib install --git-url ${pinnedGitUrl(pin)} succeeded but lib list does not show ${pin.name}`, 'arduino-cli', '');
  await checkTflmLibrary(after, pin);
  // Not the pin right after installing it means another copy shadows it, or the
  // repository moved; said the same way as for a copy the user had.
  const check = await comparePin(after, pin);
  return { ...after, installed: true, ...check };
}

async function comparePin(lib: InstalledLibrary, pin: TflmLibraryPin): Promise<{ matchesPin: boolean; srcTree: string | null }> {
  // Without a folder there is nothing to compare; the copy is then taken on trust.
  if (!lib.installDir) return { matchesPin: true, srcTree: null };
  const check = await checkLibraryPin(lib.installDir, pin);
  return { matchesPin: check.matches, srcTree: check.srcTree };
}

/** One line for a library that is not the pinned commit: what differs, and how to get the pin. The user decides. */
export function pinMismatchWarning(status: LibraryStatus, pin: TflmLibraryPin = TFLM_LIBRARY_PIN): string {
  return (
    `warning: ${status.installDir} holds ${status.name} ${status.version || ''}`.trimEnd() +
    ` that is not ${pinLabel(pin)} (its src/ differs from that commit's), the version this project's TFLM adapter and arena sizes were checked on; ` +
    `building with it as it is. To use the pinned one: remove that folder (or 'arduino-cli lib uninstall ${pin.name}') and rerun, ` +
    `or 'arduino-cli lib install --git-url ${pinnedGitUrl(pin)}' with library.enable_unsafe_install set`
  );
}

async function checkTflmLibrary(lib: InstalledLibrary, pin: TflmLibraryPin): Promise<void> {
  if (!lib.installDir) return;
  try {
    await access(join(lib.installDir, TFLM_LIBRARY_MARKER));
  } catch {
    throw new UsageError(
      `${lib.installDir} holds an old ${pin.name} (no ${TFLM_LIBRARY_MARKER}; the retired Library Manager release): ` +
        `remove that folder and rerun, or 'arduino-cli lib uninstall ${pin.name}', so that ${pinLabel(pin)} is installed`,
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

/**
 * Linker flag for a TFLM sketch: the library defines DebugLog as Serial.print
 * (system_setup.cpp, compiled as an object), which would put text on the framed
 * link. Wrapping sends every call to our __wrap_DebugLog (runtime_tflm.cc), which
 * turns it into LOG frames. The mbed core's link recipe reads
 * compiler.c.elf.extra_flags; the Arduino IDE cannot pass it (see README).
 */
export const TFLM_DEBUGLOG_WRAP_PROPERTY = 'compiler.c.elf.extra_flags=-Wl,--wrap=DebugLog';

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
 * Finds the port the flashed board's sketch came back on, after arduino-cli
 * upload returned. Implemented by src/deploy/flash.ts (it knows which board was
 * flashed); injected so this module does not depend on the device layer.
 */
export type WaitForPort = (ports: UploadedPorts, options: { readonly timeoutMs: number }) => Promise<string>;

export interface UploadedPorts {
  /** The port the upload was asked to use. */
  readonly given: string;
  /** The port arduino-cli says the board is on after the upload (updated_upload_port); null when it does not say. */
  readonly reported: string | null;
}

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
  /** The port the sketch runs on: what waitForPort found, else arduino-cli's updated_upload_port, else the one given. */
  readonly port: string;
  /** arduino-cli's updated_upload_port, when it reported one. */
  readonly reportedPort: string | null;
  readonly log: string;
}

/**
 * `arduino-cli upload -p PORT --fqbn F --input-dir DIR --format json [SKETCH]`. arduino-cli
 * itself opens the port at 1200 baud to reset the board into its bootloader
 * (nano33ble.upload.use_1200bps_touch), which enumerates under another USB product
 * id (and often another port name), and runs bossac; the sketch then enumerates
 * once more. Then waitForPort finds where it came back.
 */
export async function uploadSketch(options: UploadSketchOptions): Promise<UploadResult> {
  const fqbn = options.fqbn ?? NANO33BLE_FQBN;
  const args = ['upload', '-p', options.port, '--fqbn', fqbn, '--input-dir', resolve(options.inputDir), '--format', 'json'];
  if (options.sketchDir) args.push(resolve(options.sketchDir));
  const { stdout, stderr } = await run(options.cli, args);
  const json = tryJson(stdout) as { stdout?: unknown; stderr?: unknown; updated_upload_port?: { address?: unknown } | null } | undefined;
  const updated = json?.updated_upload_port?.address ?? /New upload port: (\S+)/.exec(stdout)?.[1];
  const reportedPort = typeof updated === 'string' && updated !== '' ? updated : null;
  const log = json ? [json.stdout, json.stderr].filter((x) => typeof x === 'string').join('') : `${stdout}${stderr}`;
  const port = options.waitForPort
    ? await options.waitForPort({ given: options.port, reported: reportedPort }, { timeoutMs: options.timeoutMs ?? 15_000 })
    : (reportedPort ?? options.port);
  return { port, reportedPort, log };
}
