/**
 * A fresh machine has only what scripts/setup.sh installs. A package installed
 * by hand on a developer's machine once hid a missing one (libstdc++_nano: the
 * firmware links with g++), because CI runs on that same machine. So this test
 * asks the tools themselves which files a real firmware build opens (every
 * header, with -MD instead of -MMD; every object, library and startup file the
 * linker loads, with --trace; the compiler's own programs and spec files), adds
 * the other programs and data the tests use, and checks with dpkg that each file
 * belongs to a package of scripts/debian-packages.txt or to one they depend on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, realpath, writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { buildEmulatorFirmware } from '../src/firmware-build/build-emulator.ts';
import { REPO_ROOT } from '../src/firmware-build/paths.ts';
import { writeTflite } from '../src/tflite/writer.ts';
import { randomInt8Model } from '../scripts/golden-vectors.ts';
import { parseDependencies } from '../src/firmware-build/compile-cache.ts';

/** Programs the build and the tests run by name (besides those the compiler drivers run, found below). */
const PROGRAMS = [
  'arm-none-eabi-gcc',
  'arm-none-eabi-g++',
  'arm-none-eabi-objcopy',
  'arm-none-eabi-size',
  'arm-none-eabi-nm',
  'qemu-system-arm',
  'setpriv',
  'taskset',
  'gcc',
  'g++',
  'git',
  'chromium',
  'redis-server',
];
const DATASET_DIR = '/usr/share/datasets/fashion-mnist';

const hasDpkg = (await execa('dpkg-query', ['--version'], { reject: false })).exitCode === 0;

async function listedPackages(): Promise<string[]> {
  const { stdout } = await execa('bash', [join(REPO_ROOT, 'scripts', 'setup.sh'), '--list-packages']);
  return stdout.split('\n').filter(Boolean);
}

/** Package name of a Depends entry: "libc6 (>= 2.34)" -> "libc6", "python3:any" -> "python3". */
function dependencyName(entry: string): string {
  return entry.trim().split(/[\s(]/)[0]!.split(':')[0]!;
}

/** Installed packages reachable from `roots` through Depends and Pre-Depends (alternatives and Provides resolved to what is installed). */
async function dependencyClosure(roots: readonly string[]): Promise<Set<string>> {
  const { stdout } = await execa('dpkg-query', ['-W', '-f', '${db:Status-Abbrev}\t${Package}\t${Provides}\t${Depends}, ${Pre-Depends}\n']);
  const depends = new Map<string, string[][]>();
  const providers = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const [status, name, provides, deps] = line.split('\t');
    if (!status?.startsWith('ii') || !name) continue;
    depends.set(
      name,
      (deps ?? '')
        .split(',')
        .map((d) => d.trim())
        .filter(Boolean)
        .map((d) => d.split('|').map(dependencyName)),
    );
    for (const p of (provides ?? '').split(',').map(dependencyName).filter(Boolean)) providers.set(p, [...(providers.get(p) ?? []), name]);
  }
  const seen = new Set<string>();
  const queue = [...roots];
  while (queue.length > 0) {
    const name = queue.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    for (const alternatives of depends.get(name) ?? []) {
      for (const alt of alternatives) {
        for (const pkg of depends.has(alt) ? [alt] : (providers.get(alt) ?? [])) queue.push(pkg);
      }
    }
  }
  return seen;
}

/** The package owning each path, by `dpkg -S` (paths resolved through symlinks first, as dpkg records real files). */
async function owners(paths: readonly string[]): Promise<Map<string, string | undefined>> {
  const result = new Map<string, string | undefined>();
  for (const path of paths) {
    const candidates = [...new Set([path, await realpath(path).catch(() => path)])];
    let owner: string | undefined;
    for (const candidate of candidates) {
      const r = await execa('dpkg', ['-S', candidate], { reject: false });
      const line = r.stdout.split('\n').find((l) => !l.startsWith('diversion'));
      if (r.exitCode === 0 && line) {
        owner = line.split(':')[0]!.split(',')[0]!.trim();
        break;
      }
    }
    result.set(path, owner);
  }
  return result;
}

/**
 * Wrappers for the two compiler drivers, first on PATH: compiles list system
 * headers too (-MD), links list every input file (--trace), and both log it.
 */
async function tracingToolchain(dir: string, log: string): Promise<void> {
  for (const tool of ['arm-none-eabi-gcc', 'arm-none-eabi-g++']) {
    const real = (await execa('bash', ['-c', `command -v ${tool}`])).stdout.trim();
    const script = `#!/usr/bin/env bash
args=(); mf=; next_mf=0; compile=0
for a in "$@"; do
  if [ "$next_mf" = 1 ]; then mf="$a"; next_mf=0; fi
  case "$a" in -MMD) a=-MD ;; -MF) next_mf=1 ;; -c) compile=1 ;; esac
  args+=("$a")
done
if [ "$compile" = 1 ]; then
  "${real}" "\${args[@]}" || exit $?
  [ -n "$mf" ] && { printf 'deps: '; cat "$mf"; echo; } >> "${log}"
else
  out=$("${real}" "\${args[@]}" -Wl,--trace) || exit $?
  printf '%s\\n' "$out" | sed 's/^/linked: /' >> "${log}"
fi
`;
    await writeFile(join(dir, tool), script);
    await chmod(join(dir, tool), 0o755);
  }
}

/** Absolute paths named in the trace log (compile dependencies and linker inputs, "(archive)member" stripped). */
function tracedFiles(logText: string): string[] {
  const files = new Set<string>();
  for (const line of logText.replace(/\\\r?\n/g, ' ').split('\n')) {
    if (line.startsWith('deps: ')) for (const f of parseDependencies(line.slice(6))) files.add(f);
    if (line.startsWith('linked: ')) {
      const m = /^linked: (?:\()?(\/[^()\s]+)/.exec(line);
      if (m) files.add(m[1]!);
    }
  }
  return [...files].filter((f) => f.startsWith('/') && !f.startsWith(REPO_ROOT) && !f.startsWith(tmpdir()));
}

/** The compiler driver's own programs and spec files, which no trace shows. */
async function driverFiles(): Promise<string[]> {
  const files: string[] = [];
  for (const [driver, what] of [
    ['arm-none-eabi-gcc', ['-print-prog-name=cc1', '-print-prog-name=as', '-print-prog-name=ld', '-print-prog-name=collect2', '-print-file-name=nano.specs', '-print-file-name=nosys.specs']],
    ['arm-none-eabi-g++', ['-print-prog-name=cc1plus']],
  ] as const) {
    for (const flag of what) {
      const path = (await execa(driver, [flag])).stdout.trim();
      if (path.startsWith('/')) files.push(path);
      else {
        const found = await execa('bash', ['-c', `command -v ${path}`], { reject: false });
        files.push(found.stdout.trim() || `${driver} ${flag}: not found`);
      }
    }
  }
  return files;
}

test('setup.sh lists its packages from scripts/debian-packages.txt', async () => {
  const listed = await listedPackages();
  assert.ok(listed.includes('libstdc++-arm-none-eabi-newlib'), 'the firmware links libstdc++_nano');
  assert.ok(listed.every((p) => /^[a-z0-9][a-z0-9+.-]+$/.test(p)), `package names: ${listed.join(' ')}`);
});

test('every file the firmware build and the tests use comes from a package setup.sh installs', { skip: hasDpkg ? false : 'no dpkg (not Debian)' }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'tinyml-setup-trace-'));
  const log = join(work, 'trace.log');
  await writeFile(log, '');
  await tracingToolchain(work, log);
  const savedPath = process.env.PATH;
  process.env.PATH = `${work}${delimiter}${savedPath ?? ''}`;
  try {
    const model = randomInt8Model('trace', [784, 16, 10], 5, { softmax: true, inputShape: [28, 28] });
    await buildEmulatorFirmware({ tflite: writeTflite(model), outDir: join(work, 'out'), runtime: 'native' });
  } finally {
    process.env.PATH = savedPath;
  }
  const traced = tracedFiles(await readFile(log, 'utf8'));
  assert.ok(traced.some((f) => f.includes('libstdc++_nano')), `the link should load libstdc++_nano; traced: ${traced.join(' ')}`);
  assert.ok(traced.some((f) => /\/stdint\.h$/.test(f)), 'system headers are traced');

  const programs: string[] = [];
  for (const name of PROGRAMS) {
    const r = await execa('bash', ['-c', `command -v ${name}`], { reject: false });
    programs.push(r.stdout.trim() || `${name}: not on PATH`);
  }
  const dataset = readdirSync(DATASET_DIR).map((f) => join(DATASET_DIR, f));
  const all = [...new Set([...traced, ...(await driverFiles()), ...programs, ...dataset])];

  const allowed = await dependencyClosure(await listedPackages());
  const owner = await owners(all.filter((f) => f.startsWith('/')));
  const problems = [
    ...all.filter((f) => !f.startsWith('/')),
    ...[...owner].filter(([, pkg]) => pkg === undefined || !allowed.has(pkg)).map(([f, pkg]) => `${f} (${pkg ?? 'no package'})`),
  ];
  assert.deepEqual(problems, [], `add the owning packages to scripts/debian-packages.txt:\n${problems.join('\n')}`);
  assert.ok(owner.size > 20, `expected many traced files, got ${owner.size}`);
});
