/**
 * Compiles an assembled sketch folder the way arduino-cli does for
 * `arduino:mbed_nano:nano33ble`, from a checkout of ArduinoCore-mbed (and, for
 * the tflm runtime, of the Arduino_TensorFlowLite library), then partial-links
 * it and reports its sizes. Used to MEASURE what each runtime costs on the real
 * board's toolchain and flags (budget.ts), and by an opt-in test.
 *
 * Followed from the core (platform.txt, boards.txt `nano33ble.*`):
 * - recipe.c.o.pattern / recipe.cpp.o.pattern: `-c {warnings} -g3 -nostdlib
 *   @defines.txt @cflags.txt|@cxxflags.txt -DARDUINO_ARCH_NRF52840 -MMD
 *   -mcpu= -mfloat-abi= -mfpu= -DARDUINO=10607 -DARDUINO_ARDUINO_NANO33BLE
 *   -DARDUINO_ARCH_MBED -DARDUINO_LIBRARY_DISCOVERY_PHASE=0 {includes}
 *   -I<core>/api/deprecated -I<core>/api/deprecated-avr-comp -iprefix<core>
 *   @includes.txt`, with {includes} = the core and the variant (for the core), and
 *   the used libraries' folders too (for the sketch and the libraries);
 * - the sketch: `<name>.ino` becomes `<name>.ino.cpp` behind `#include <Arduino.h>`,
 *   and src/ is compiled recursively; the core (cores/arduino, recursively) goes
 *   into core.a, linked with --whole-archive, the variant's sources as objects;
 *   a library (Arduino_TensorFlowLite, or one bundled in the core's libraries/,
 *   such as Wire, which TensorFlowLite.h includes) is used when the sketch or a
 *   library already used includes one of its headers, and all of its src/ is
 *   compiled (Arduino_TensorFlowLite says precompiled=full but ships no .a);
 * - recipe.hooks.linking.prelink.1.pattern: linker_script.ld through `g++ -E -P -x c`;
 * - recipe.c.combine.pattern: `g++ -L<build> -Wl,--gc-sections -Wl,--as-needed
 *   @ldflags.txt -T<build>/linker_script.ld --specs=nosys.specs <objects>
 *   -Wl,--whole-archive core.a libcc_310_*.a -Wl,--no-whole-archive
 *   -Wl,--start-group -lstdc++ -lsupc++ -lm -lc -lgcc -lnosys -Wl,--end-group`.
 *
 * What differs, and why: libmbed.a (mbed OS, prebuilt) is not in the core's
 * source repository, so the link leaves its symbols unresolved
 * (--unresolved-symbols=ignore-all) and, since its start-up code (Reset_Handler,
 * __wrap_main) is what reaches the core's main(), main is made the root for
 * --gc-sections (-e main). So the sizes are those of the core's own code, the
 * sketch and the libraries, without mbed OS; an empty sketch built the same way
 * gives the baseline to subtract. Library functions (newlib, libstdc++) that mbed
 * OS would pull in anyway are charged to whoever uses them here: an overestimate.
 * The compiler is the arm-none-eabi-gcc on PATH (the core pins 7-2017q4; pass an
 * empty arm_acle.h in includeFirst to refuse what GCC 7 lacks), and warnings are
 * on by default where arduino-cli's default is -w.
 */
import { execa, type ExecaError } from 'execa';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { ToolError, UsageError } from '../errors.ts';
import { dependencyFlags, isUpToDate, recordCommand } from './compile-cache.ts';
import { mapLimit, missingToolError, runTool } from './toolchain.ts';
import { exists } from '../util/fs.ts';

/** The Nano 33 BLE's target flags (variants/ARDUINO_NANO33BLE/cflags.txt, and the recipe's -mcpu/-mfpu). */
export const ARM_TARGET_FLAGS: readonly string[] = ['-mcpu=cortex-m4', '-mthumb', '-mfloat-abi=softfp', '-mfpu=fpv4-sp-d16'];

/** boards.txt nano33ble.build.variant. */
export const NANO33BLE_VARIANT = 'ARDUINO_NANO33BLE';

/** {runtime.ide.version} as arduino-cli sets it. */
const ARDUINO_VERSION = '10607';

/** boards.txt nano33ble.compiler.mbed.extra_ldflags. */
const SYSTEM_LIBS = ['-lstdc++', '-lsupc++', '-lm', '-lc', '-lgcc', '-lnosys'];

/** The mbed core's prebuilt archives, linked with --whole-archive (nano33ble.compiler.mbed); libmbed.a is not in the source repo. */
const CORE_ARCHIVES = ['libmbed.a', 'libcc_310_core.a', 'libcc_310_ext.a', 'libcc_310_trng.a'];

const SOURCE_EXTS = new Set(['.c', '.cpp', '.S']);

/** arduino-cli --warnings: none adds -w (its default), default adds nothing, all adds -Wall -Wextra. */
export type WarningLevel = 'none' | 'default' | 'all';
const WARNING_FLAGS: Record<WarningLevel, string[]> = { none: ['-w'], default: [], all: ['-Wall', '-Wextra'] };

export interface ArduinoCoreBuildOptions {
  /** An ArduinoCore-mbed checkout: platform.txt, cores/arduino, variants/ARDUINO_NANO33BLE. */
  readonly coreDir: string;
  /** A sketch folder: <name>/<name>.ino and src/. */
  readonly sketchDir: string;
  /** Objects, archive, linker script, ELF and map of this sketch go here. */
  readonly buildDir: string;
  /** The core's and libraries' objects, which do not depend on the sketch; default buildDir. Reused when up to date. */
  readonly cacheDir?: string;
  /** An Arduino_TensorFlowLite folder (library.properties, src/), for a sketch that includes its header. */
  readonly tflmDir?: string;
  /** -I folders searched before all others (an empty arm_acle.h stands in for GCC 7's). */
  readonly includeFirst?: readonly string[];
  /** Default 'default', not arduino-cli's 'none' (-w), so that warnings are seen; cflags.txt's -Wall -Wextra apply. */
  readonly warnings?: WarningLevel;
  /** Compilers in parallel; default 2. */
  readonly jobs?: number;
  /** Called once per compiled (not reused) source. */
  readonly onCompile?: (source: string) => void;
}

/** What the compiler printed for one source. */
export interface CompilerMessages {
  readonly source: string;
  /** sketch, core, variant or library. */
  readonly part: 'sketch' | 'core' | 'variant' | 'library';
  readonly text: string;
}

/** Section sizes of the linked ELF, as arduino-cli counts them (recipe.size.regex). */
export interface ElfSizes {
  /** .text + .rodata* + .data (recipe.size.regex): what upload.maximum_size is checked against. */
  readonly flash: number;
  /** .data + .bss (recipe.size.regex.data): what upload.maximum_data_size is checked against. */
  readonly ram: number;
  /** Flash not in the regex but programmed anyway (.ARM.exidx, .ARM.extab, ...). */
  readonly flashOther: number;
  readonly sections: Readonly<Record<string, number>>;
}

export interface ArduinoCoreBuild {
  readonly elf: string;
  readonly sizes: ElfSizes;
  /** Non-empty compiler output, per source (warnings; errors throw). */
  readonly messages: readonly CompilerMessages[];
  /** Undefined in the linked ELF: mbed OS's symbols, and anything else nobody defines. */
  readonly unresolved: readonly string[];
  /** Undefined symbols of the sketch's own objects that look like compiler intrinsics. */
  readonly sketchIntrinsics: readonly string[];
  /** The library folders used (found as arduino-cli does: by the headers the sketch includes). */
  readonly libraries: readonly string[];
  /** Sources compiled in this run (the rest were up to date). */
  readonly compiled: number;
  readonly objects: number;
}

interface Job {
  readonly src: string;
  readonly obj: string;
  readonly part: CompilerMessages['part'];
  readonly command: readonly string[];
}

/** Compiles and partial-links `sketchDir` with the core's recipe; throws ToolError on a compile error. */
export async function buildWithArduinoCore(options: ArduinoCoreBuildOptions): Promise<ArduinoCoreBuild> {
  const coreDir = resolve(options.coreDir);
  const sketchDir = resolve(options.sketchDir);
  const buildDir = resolve(options.buildDir);
  const cacheDir = resolve(options.cacheDir ?? options.buildDir);
  const corePath = join(coreDir, 'cores', 'arduino');
  const variantPath = join(coreDir, 'variants', NANO33BLE_VARIANT);
  for (const [p, what] of [
    [join(coreDir, 'platform.txt'), 'platform.txt'],
    [corePath, 'cores/arduino'],
    [join(variantPath, 'includes.txt'), `variants/${NANO33BLE_VARIANT}/includes.txt`],
  ] as const) {
    if (!(await exists(p))) throw new UsageError(`${coreDir} is not an ArduinoCore-mbed checkout: ${what} is missing; pass the folder holding platform.txt, cores/ and variants/`);
  }
  const name = basename(sketchDir);
  const ino = join(sketchDir, `${name}.ino`);
  if (!(await exists(ino))) throw new UsageError(`${sketchDir} is not a sketch folder: ${name}.ino is missing`);

  // Sketch: copied as arduino-cli does, the .ino turned into C++.
  const sketchBuild = join(buildDir, 'sketch');
  await rm(sketchBuild, { recursive: true, force: true });
  await rm(join(buildDir, 'obj', 'sketch'), { recursive: true, force: true });
  await mkdir(sketchBuild, { recursive: true });
  const sketchSources: string[] = [];
  for (const f of await listFiles(join(sketchDir, 'src'))) {
    const to = join(sketchBuild, 'src', relative(join(sketchDir, 'src'), f));
    await mkdir(dirname(to), { recursive: true });
    await copyFile(f, to);
    if (SOURCE_EXTS.has(extname(f))) sketchSources.push(to);
  }
  const inoText = await readFile(ino, 'utf8');
  const inoCpp = join(sketchBuild, `${name}.ino.cpp`);
  await writeFile(inoCpp, `#include <Arduino.h>\n#line 1 ${JSON.stringify(ino)}\n${inoText}`);
  sketchSources.push(inoCpp);

  // Libraries: the ones whose headers the sketch (or a library it uses) includes.
  const sketchText = [inoText, ...(await Promise.all(sketchSources.map((f) => readFile(f, 'utf8'))))].join('\n');
  const tflmHeader = 'TensorFlowLite.h';
  if (new RegExp(`#\\s*include\\s*[<"]${tflmHeader.replace('.', '\\.')}[>"]`).test(sketchText)) {
    if (!options.tflmDir) throw new UsageError(`the sketch includes <${tflmHeader}>: pass the Arduino_TensorFlowLite folder (--tflm-dir)`);
    if (!(await exists(join(resolve(options.tflmDir), 'src', tflmHeader)))) {
      throw new UsageError(`${resolve(options.tflmDir)} is not the Arduino_TensorFlowLite library: src/${tflmHeader} is missing`);
    }
  }
  const candidates = await libraryCandidates([...(options.tflmDir ? [resolve(options.tflmDir)] : []), ...(await subdirs(join(coreDir, 'libraries')))]);
  const used = await discoverLibraries([...sketchSources, inoCpp], candidates);
  const libraries = used.map((l) => l.dir);
  const warnings = WARNING_FLAGS[options.warnings ?? 'default'];
  // arduino-cli's {includes}: the core and the variant for the core; the used libraries too for the rest.
  const coreIncludes = [...(options.includeFirst ?? []).flatMap((d) => ['-I', resolve(d)]), `-I${corePath}`, `-I${variantPath}`];
  const allIncludes = [...coreIncludes, ...used.map((l) => `-I${l.root}`)];
  const tail = [`-I${corePath}/api/deprecated`, `-I${corePath}/api/deprecated-avr-comp`, `-iprefix${corePath}`, `@${join(variantPath, 'includes.txt')}`];
  const target = ['-DARDUINO_ARCH_NRF52840', '-MMD', '-mcpu=cortex-m4', '-mfloat-abi=softfp', '-mfpu=fpv4-sp-d16'];
  const defines = [`-DARDUINO=${ARDUINO_VERSION}`, `-DARDUINO_${NANO33BLE_VARIANT}`, '-DARDUINO_ARCH_MBED', '-DARDUINO_LIBRARY_DISCOVERY_PHASE=0'];
  const commandFor = (src: string, obj: string, includes: readonly string[]): string[] => {
    const ext = extname(src);
    if (ext === '.S') {
      return ['arm-none-eabi-g++', '-c', '-x', 'assembler-with-cpp', '-mcpu=cortex-m4', '-mfpu=fpv4-sp-d16', ...defines, ...includes, ...tail, src, '-o', obj];
    }
    const c = ext === '.c';
    return [
      c ? 'arm-none-eabi-gcc' : 'arm-none-eabi-g++',
      '-c', ...warnings, '-g3', '-nostdlib',
      `@${join(variantPath, 'defines.txt')}`,
      `@${join(variantPath, c ? 'cflags.txt' : 'cxxflags.txt')}`,
      ...target, ...defines, ...includes, ...tail, src, '-o', obj,
    ];
  };
  const jobsIn = async (dir: string, objDir: string, part: Job['part'], sources?: readonly string[]): Promise<Job[]> => {
    const includes = part === 'core' || part === 'variant' ? coreIncludes : allIncludes;
    return (sources ?? (await listFiles(dir)).filter((f) => SOURCE_EXTS.has(extname(f)))).map((src) => {
      const obj = join(objDir, `${relative(dir, src)}.o`);
      return { src, obj, part, command: commandFor(src, obj, includes) };
    });
  };

  const sketchJobs = await jobsIn(sketchBuild, join(buildDir, 'obj', 'sketch'), 'sketch', sketchSources);
  const variantJobs = (await jobsIn(variantPath, join(cacheDir, 'variant'), 'variant')).filter((j) => dirname(j.src) === variantPath);
  const coreJobs = await jobsIn(corePath, join(cacheDir, 'core'), 'core');
  const libraryJobs = (
    await Promise.all(used.map(async (l) => jobsIn(l.root, join(cacheDir, 'libraries', basename(l.dir)), 'library', (await l.files()).filter((f) => SOURCE_EXTS.has(extname(f))))))
  ).flat();
  const all = [...sketchJobs, ...variantJobs, ...coreJobs, ...libraryJobs];

  let compiled = 0;
  const messages: CompilerMessages[] = [];
  await mapLimit(all, options.jobs ?? 2, async (job) => {
    const text = await compile(job, () => {
      compiled++;
      options.onCompile?.(job.src);
    });
    if (text.trim()) messages.push({ source: job.src, part: job.part, text: text.trim() });
  });
  messages.sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));

  const sketchIntrinsics = new Set<string>();
  for (const job of sketchJobs) for (const s of builtinLookingSymbols(await undefinedSymbols(job.obj))) sketchIntrinsics.add(s);

  // core.a, the preprocessed linker script, the partial link.
  const coreArchive = join(buildDir, 'core.a');
  await runTool('arm-none-eabi-ar', ['rcs', coreArchive, ...coreJobs.map((j) => j.obj)], 'archiving the core');
  const ldscript = join(buildDir, 'linker_script.ld');
  const ldflagsFile = join(variantPath, 'ldflags.txt');
  await runTool('arm-none-eabi-g++', ['-E', '-P', '-x', 'c', join(variantPath, 'linker_script.ld'), '-o', ldscript], 'preprocessing linker_script.ld');
  const prebuilt: string[] = [];
  for (const a of CORE_ARCHIVES) if (await exists(join(variantPath, 'libs', a))) prebuilt.push(join(variantPath, 'libs', a));
  const elf = join(buildDir, `${name}.ino.elf`);
  const linkArgs = [
    `-L${buildDir}`, '-Wl,--gc-sections', ...warnings, '-Wl,--as-needed',
    `@${ldflagsFile}`, `-T${ldscript}`, `-Wl,-Map,${join(buildDir, `${name}.ino.map`)}`, '--specs=nosys.specs',
    // Not in the recipe: mbed OS is absent (see the module comment).
    '-Wl,--unresolved-symbols=ignore-all', '-Wl,-e,main',
    '-o', elf,
    ...sketchJobs.map((j) => j.obj), ...variantJobs.map((j) => j.obj), ...libraryJobs.map((j) => j.obj),
    '-Wl,--whole-archive', coreArchive, ...prebuilt, '-Wl,--no-whole-archive',
    '-Wl,--start-group', ...SYSTEM_LIBS, '-Wl,--end-group',
  ];
  await runTool('arm-none-eabi-g++', linkArgs, `linking ${name}`);
  const sizes = parseSizeA(await runTool('arm-none-eabi-size', ['-A', elf], `sizing ${elf}`));
  return {
    elf,
    sizes,
    messages,
    unresolved: await undefinedSymbols(elf),
    sketchIntrinsics: [...sketchIntrinsics].sort(),
    libraries,
    compiled,
    objects: all.length,
  };
}

/** Compiles one source unless its object is up to date; returns the compiler's stderr (kept beside the object). */
async function compile(job: Job, onCompile: () => void): Promise<string> {
  const log = `${job.obj}.log`;
  if (await isUpToDate(job.obj, job.command)) return readFile(log, 'utf8').catch(() => '');
  onCompile();
  await mkdir(dirname(job.obj), { recursive: true });
  const [tool, ...args] = job.command;
  try {
    const r = await execa(tool!, [...args, ...dependencyFlags(job.obj)], { stripFinalNewline: false });
    await writeFile(log, r.stderr);
    await recordCommand(job.obj, job.command);
    return r.stderr;
  } catch (err) {
    const e = err as ExecaError;
    if ((e as { code?: string }).code === 'ENOENT') throw missingToolError(tool!, err);
    const stderr = typeof e.stderr === 'string' ? e.stderr : '';
    throw new ToolError(`compiling ${job.src} with the mbed core's recipe failed (${tool} exited with ${e.exitCode ?? e.signal})`, tool!, stderr, { cause: err });
  }
}

/** `size -A` output -> sizes counted as arduino-cli's recipe.size.regex / .regex.data do. */
export function parseSizeA(text: string): ElfSizes {
  const sections: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\.\S+)\s+(\d+)\s+(\d+)/.exec(line.trim());
    if (m) sections[m[1]!] = Number(m[2]);
  }
  let flash = 0;
  let ram = 0;
  let flashOther = 0;
  for (const [sec, size] of Object.entries(sections)) {
    if (/^(?:\.data|\.text|\.rodata)/.test(sec)) flash += size;
    if (/^(?:\.data|\.bss)$/.test(sec)) ram += size;
    if (/^\.ARM\.(exidx|extab)/.test(sec)) flashOther += size;
  }
  return { flash, ram, flashOther, sections };
}

/** Single-word `__` names that are C library functions, not compiler intrinsics. */
const LIBRARY_WORDS = new Set(['__errno', '__getreent']);

/**
 * Names that look like compiler intrinsics (ACLE's `__sxtb16`, `__smlad`, `__ssat`,
 * or `__builtin_*`): a compiler that knows them never leaves them undefined, so an
 * undefined one means a header declared (or C implied) a function nobody defines.
 * ABI helpers (`__aeabi_*`, `__cxa_*`) and C library names are not intrinsics.
 */
export function builtinLookingSymbols(symbols: readonly string[]): string[] {
  return symbols.filter((s) => (/^__[a-z][a-z0-9]*$/.test(s) && !LIBRARY_WORDS.has(s)) || s.startsWith('__builtin_'));
}

/** `arm-none-eabi-nm -u` of an object or ELF: the undefined symbol names. */
export async function undefinedSymbols(file: string): Promise<string[]> {
  const out = await runTool('arm-none-eabi-nm', ['-u', file], `listing undefined symbols of ${file}`);
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/).pop() ?? '')
    .filter((s) => s.length > 0);
}

/** A library: its folder, the folder its headers are included from, and the files compiled with it. */
interface Library {
  readonly dir: string;
  /** src/ (1.5 layout, compiled recursively) or the folder itself (legacy layout: its files and utility/). */
  readonly root: string;
  readonly files: () => Promise<string[]>;
}

/** Libraries usable on this board (library.properties `architectures` *, mbed or mbed_nano), by the headers at their root. */
async function libraryCandidates(dirs: readonly string[]): Promise<Map<string, Library>> {
  const byHeader = new Map<string, Library>();
  for (const dir of dirs) {
    const props = await readFile(join(dir, 'library.properties'), 'utf8').catch(() => '');
    const arch = /^architectures=(.*)$/m.exec(props)?.[1]?.split(',').map((a) => a.trim());
    if (arch && !arch.some((a) => a === '*' || a === 'mbed' || a === 'mbed_nano')) continue;
    const layout15 = await exists(join(dir, 'src'));
    const root = layout15 ? join(dir, 'src') : dir;
    const files = async (): Promise<string[]> =>
      layout15 ? listFiles(root) : [...(await listFiles(root, false)), ...(await listFiles(join(root, 'utility')))];
    const lib: Library = { dir, root, files };
    for (const f of await readdir(root)) if (f.endsWith('.h') && !byHeader.has(f)) byHeader.set(f, lib);
  }
  return byHeader;
}

const INCLUDE_RE = /^[ \t]*#[ \t]*include[ \t]*([<"])([^>"]+)[>"]/gm;

/**
 * arduino-cli's library discovery, by scanning rather than preprocessing: a library
 * is used when a sketch source, or a file of a library already used, includes one
 * of its root headers (and the include does not resolve next to the including file).
 */
async function discoverLibraries(sources: readonly string[], candidates: Map<string, Library>): Promise<Library[]> {
  const used: Library[] = [];
  const queue = [...sources];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = await readFile(file, 'utf8');
    for (const m of text.matchAll(INCLUDE_RE)) {
      const lib = candidates.get(m[2]!);
      if (!lib || used.includes(lib)) continue;
      if (m[1] === '"' && (await exists(join(dirname(file), m[2]!)))) continue;
      used.push(lib);
      queue.push(...(await lib.files()).filter((f) => SOURCE_EXTS.has(extname(f)) || extname(f) === '.h'));
    }
  }
  return used;
}

async function subdirs(dir: string): Promise<string[]> {
  if (!(await exists(dir))) return [];
  return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => join(dir, e.name)).sort();
}

async function listFiles(dir: string, recursive = true): Promise<string[]> {
  if (!(await exists(dir))) return [];
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (recursive) out.push(...(await listFiles(p)));
    }
    else if (entry.isFile()) out.push(p);
  }
  return out.sort();
}

