/**
 * The firmware toolchain (arm-none-eabi-gcc with newlib-nano and libstdc++_nano,
 * for the flags the emulator build uses) and the emulator (QEMU with mps2-an386).
 */
import { isAbsolute, normalize } from 'node:path';
import { CORTEX_M4F_FLAGS } from '../firmware-build/build-emulator.ts';
import { fail, firstLine, ok, type CheckResult, type DoctorProbes } from './types.ts';

const GCC = 'arm-none-eabi-gcc';
const QEMU = 'qemu-system-arm';
export const EMULATOR_MACHINE = 'mps2-an386';

/** -mcpu/-mthumb/-mfloat-abi/-mfpu pick the multilib folder the build links from. */
const MULTILIB_FLAGS = CORTEX_M4F_FLAGS.filter((f) => /^-m/.test(f));

/** Files the firmware link needs, and the package that ships each. */
const GCC_FILES: ReadonlyArray<readonly [file: string, pkg: string, why: string]> = [
  ['nano.specs', 'libnewlib-arm-none-eabi', "newlib-nano's specs"],
  ['libc_nano.a', 'libnewlib-arm-none-eabi', 'newlib-nano'],
  ['libstdc++_nano.a', 'libstdc++-arm-none-eabi-newlib', 'the C++ runtime the firmware links with g++'],
];

export async function checkToolchain(probes: DoctorProbes): Promise<CheckResult[]> {
  const v = await probes.run(GCC, ['--version']);
  if (v.notFound || v.exitCode !== 0) {
    const detail = v.notFound ? `${GCC} not on PATH` : `${GCC} --version failed: ${firstLine(v.stderr)}`;
    return [fail('toolchain', detail, 'sudo apt-get install -y gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib')];
  }
  const results: CheckResult[] = [ok('toolchain', firstLine(v.stdout))];
  for (const [file, pkg, why] of GCC_FILES) {
    // gcc prints the full path when it finds the file in its search path for these flags, else the bare name.
    const r = await probes.run(GCC, [...MULTILIB_FLAGS, `-print-file-name=${file}`]);
    const path = normalize(r.stdout.trim());
    const found = r.exitCode === 0 && isAbsolute(path) && (await probes.stat(path))?.isFile === true;
    results.push(
      found
        ? ok(`toolchain ${file}`, path)
        : fail(`toolchain ${file}`, `${GCC} ${MULTILIB_FLAGS.join(' ')} cannot find ${file} (${why})`, `sudo apt-get install -y ${pkg}`),
    );
  }
  return results;
}

export async function checkQemu(probes: DoctorProbes): Promise<CheckResult> {
  const name = 'qemu';
  const fix = 'sudo apt-get install -y qemu-system-arm';
  const v = await probes.run(QEMU, ['--version']);
  if (v.notFound) return fail(name, `${QEMU} not on PATH (the emulated board)`, fix);
  if (v.exitCode !== 0) return fail(name, `${QEMU} --version failed: ${firstLine(v.stderr)}`, fix);
  const version = firstLine(v.stdout);
  const m = await probes.run(QEMU, ['-machine', 'help']);
  const listed = m.exitCode === 0 && m.stdout.split('\n').some((l) => l.trim().split(/\s+/)[0] === EMULATOR_MACHINE);
  if (!listed) return fail(name, `${version}, but -machine help does not list ${EMULATOR_MACHINE} (QEMU 5.2 or later has it)`, fix);
  return ok(name, `${version}; machine ${EMULATOR_MACHINE} present`);
}
