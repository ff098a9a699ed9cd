/**
 * `tinyml doctor`: every check group, run side by side, in a fixed order.
 * Each group reads the machine only through the probes it is given.
 */
import { checkArduino } from './arduino.ts';
import { checkDataset } from './dataset.ts';
import { checkDebianPackages } from './debian.ts';
import { checkBackend, checkNodeVersion, checkNpmPackages } from './node.ts';
import { checkPorts } from './ports.ts';
import { realProbes } from './probes.ts';
import { checkQemu, checkToolchain } from './toolchain.ts';
import { fail, type CheckResult, type DoctorProbes, type DoctorReport } from './types.ts';

type Group = readonly [name: string, run: (probes: DoctorProbes) => Promise<CheckResult | CheckResult[]>];

export const CHECK_GROUPS: readonly Group[] = [
  ['node', async (p) => checkNodeVersion(p.nodeVersion)],
  ['npm packages', checkNpmPackages],
  ['tfjs backend', async (p) => checkBackend(await p.backend())],
  ['debian packages', checkDebianPackages],
  ['dataset', checkDataset],
  ['toolchain', checkToolchain],
  ['qemu', checkQemu],
  ['arduino-cli', checkArduino],
  ['serial ports', checkPorts],
];

export async function runDoctor(probes: DoctorProbes = realProbes(), groups: readonly Group[] = CHECK_GROUPS): Promise<DoctorReport> {
  const results = await Promise.all(
    groups.map(async ([name, run]) => {
      try {
        const r = await run(probes);
        return Array.isArray(r) ? r : [r];
      } catch (err) {
        // A check that throws is a bug in the doctor, not in the machine; still say which one.
        const why = (err instanceof Error ? err.message : String(err)).split('\n')[0];
        return [fail(name, `the check itself failed: ${why}`, 'report this as a bug in tinyml doctor (TINYML_DEBUG=1 for details)')];
      }
    }),
  );
  const checks = results.flat();
  return { ok: checks.every((c) => c.status !== 'fail'), checks };
}
