/**
 * The Debian packages of scripts/debian-packages.txt, the list setup.sh installs,
 * as dpkg-query sees them.
 */
import { join } from 'node:path';
import { fail, ok, warn, type CheckResult, type DoctorProbes } from './types.ts';

export const DEBIAN_LIST = join('scripts', 'debian-packages.txt');

// The package names, parsed as setup.sh's sed does: a comment (from '#') dropped, then
// blank lines dropped, then everything from the first blank on dropped (the first word kept).
export function parseDebianPackages(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.replace(/#.*/, ''))
    .filter((line) => !/^\s*$/.test(line))
    .map((line) => line.replace(/\s.*/, ''))
    .filter((name) => name !== '');
}

export interface DpkgEntry {
  readonly status: string;
  readonly version: string;
}

/** Lines of `dpkg-query -W -f '${Package}\t${Status}\t${Version}\n'`. */
export function parseDpkgQuery(stdout: string): Map<string, DpkgEntry> {
  const out = new Map<string, DpkgEntry>();
  for (const line of stdout.split('\n')) {
    const [pkg, status, version] = line.split('\t');
    if (pkg && status !== undefined) out.set(pkg.replace(/:.*/, ''), { status, version: version ?? '' });
  }
  return out;
}

export async function checkDebianPackages(probes: DoctorProbes): Promise<CheckResult[]> {
  const listPath = join(probes.projectRoot, DEBIAN_LIST);
  const text = await probes.readFile(listPath);
  if (text === null) return [fail('debian packages', `cannot read ${DEBIAN_LIST}`, 'run tinyml doctor from a clone of tinyml-deploy')];
  const names = parseDebianPackages(text);
  // One call for all: dpkg-query prints the known ones and exits 1 naming the unknown ones on stderr.
  const r = await probes.run('dpkg-query', ['-W', '-f', '${Package}\t${Status}\t${Version}\n', ...names]);
  if (r.notFound) {
    return [warn('debian packages', `dpkg-query not found (not Debian?): cannot check ${names.join(', ')}`, `install the equivalents of: ${names.join(' ')}`)];
  }
  const found = parseDpkgQuery(r.stdout);
  return names.map((pkg) => {
    const e = found.get(pkg);
    const name = `debian ${pkg}`;
    if (e && /\binstall ok installed\b/.test(e.status)) return ok(name, e.version);
    const state = e ? `not installed (dpkg status: ${e.status})` : 'not installed';
    return fail(name, state, `sudo apt-get install -y ${pkg} (or: sudo bash scripts/setup.sh, which installs the whole list)`);
  });
}
