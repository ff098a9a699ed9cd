/**
 * arduino-cli, the mbed_nano core and the TFLM library: only `--board nano33ble`
 * needs them, so their absence is a warning. Parsed with the same functions the
 * build uses (src/firmware-build/arduino-cli.ts), so both 0.x and 1.x JSON shapes work.
 */
import { join } from 'node:path';
import {
  findArduinoCli,
  MBED_NANO_CORE,
  parseCoreList,
  parseLibList,
  TFLM_LIBRARY_MARKER,
} from '../firmware-build/arduino-cli.ts';
import { checkLibraryPin, pinLabel, pinnedGitUrl, TFLM_LIBRARY_PIN, type TflmLibraryPin } from '../firmware-build/tflm-pin.ts';
import { firstLine, ok, warn, type CheckResult, type DoctorProbes, type RunResult } from './types.ts';

const QUIET = { ARDUINO_UPDATER_ENABLE_NOTIFICATION: 'false' };
const ONLY_FOR_BOARDS = 'only needed for --board nano33ble';

/** `version --format json` answers {"Application": "arduino-cli", "VersionString": "1.1.1", ...}. */
export function parseVersion(stdout: string): string {
  try {
    const v = (JSON.parse(stdout) as { VersionString?: unknown }).VersionString;
    if (typeof v === 'string' && v !== '') return v;
  } catch {
    // older text output: "arduino-cli  Version: 0.35.3 Commit: ..."
  }
  return /Version:\s*(\S+)/.exec(stdout)?.[1] ?? firstLine(stdout);
}

function failure(r: RunResult): string {
  return firstLine(r.stderr) || firstLine(r.stdout) || `exit code ${r.exitCode}`;
}

/** `pin`: the library commit to expect (tests pass one made from a fake library). */
export async function checkArduino(probes: DoctorProbes, pin: TflmLibraryPin = TFLM_LIBRARY_PIN): Promise<CheckResult[]> {
  let cli: string;
  try {
    cli = await findArduinoCli({ pathEnv: probes.env.PATH ?? '' });
  } catch {
    return [
      warn(
        'arduino-cli',
        `not on PATH (${ONLY_FOR_BOARDS}; the emulator does without)`,
        'curl -fsSL https://raw.githubusercontent.com/arduino/arduino-cli/master/install.sh | BINDIR=~/.local/bin sh',
      ),
    ];
  }
  const v = await probes.run(cli, ['version', '--format', 'json'], { env: QUIET });
  if (v.exitCode !== 0) return [warn('arduino-cli', `${cli} does not run: ${failure(v)}`, 'reinstall arduino-cli (https://arduino.github.io/arduino-cli/latest/installation/)')];
  const results: CheckResult[] = [ok('arduino-cli', `${parseVersion(v.stdout)} at ${cli}`)];

  const coreFix = `arduino-cli core update-index && arduino-cli core install ${MBED_NANO_CORE} (tinyml build --board nano33ble does it too)`;
  const core = await probes.run(cli, ['core', 'list', '--format', 'json'], { env: QUIET });
  try {
    if (core.exitCode !== 0) throw new Error(failure(core));
    const hit = parseCoreList(core.stdout).find((p) => p.id === MBED_NANO_CORE && p.installedVersion !== '');
    results.push(hit ? ok('arduino core', `${MBED_NANO_CORE} ${hit.installedVersion}`) : warn('arduino core', `${MBED_NANO_CORE} not installed (${ONLY_FOR_BOARDS})`, coreFix));
  } catch (err) {
    results.push(warn('arduino core', `arduino-cli core list failed: ${firstLine((err as Error).message)}`, coreFix));
  }

  const libFix = `ARDUINO_LIBRARY_ENABLE_UNSAFE_INSTALL=true arduino-cli lib install --git-url ${pinnedGitUrl(pin)} (tinyml build does it too)`;
  const lib = await probes.run(cli, ['lib', 'list', '--format', 'json'], { env: QUIET });
  try {
    if (lib.exitCode !== 0) throw new Error(failure(lib));
    const hit = parseLibList(lib.stdout).find((l) => l.name === pin.name);
    if (!hit) {
      results.push(warn('arduino library', `${pin.name} not installed (needed for --runtime tflm on the board)`, libFix));
    } else if (hit.installDir && !(await probes.stat(join(hit.installDir, TFLM_LIBRARY_MARKER)))?.isFile) {
      results.push(
        warn('arduino library', `${pin.name} ${hit.version} in ${hit.installDir} is the retired Library Manager release (no ${TFLM_LIBRARY_MARKER})`, `arduino-cli lib uninstall ${pin.name}, then ${libFix}`),
      );
    } else if (hit.installDir && !(await checkLibraryPin(hit.installDir, pin)).matches) {
      results.push(
        warn('arduino library', `${pin.name} ${hit.version} in ${hit.installDir} is not ${pinLabel(pin)}, the commit this project was checked on`, `arduino-cli lib uninstall ${pin.name}, then ${libFix}`),
      );
    } else {
      results.push(ok('arduino library', `${pin.name} ${hit.version}${hit.installDir ? ` in ${hit.installDir} (${pinLabel(pin)})` : ''}`));
    }
  } catch (err) {
    results.push(warn('arduino library', `arduino-cli lib list failed: ${firstLine((err as Error).message)}`, libFix));
  }
  return results;
}
