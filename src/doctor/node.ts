/**
 * Node.js itself, the npm packages (node_modules against package-lock.json), and
 * the TensorFlow.js backend training will use.
 */
import { join } from 'node:path';
import { fail, ok, warn, type BackendProbe, type CheckResult, type DoctorProbes } from './types.ts';

export const MIN_NODE_MAJOR = 20;

export function checkNodeVersion(version: string): CheckResult {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1] ?? NaN);
  if (major >= MIN_NODE_MAJOR) return ok('node', `v${version.replace(/^v/, '')} (>= ${MIN_NODE_MAJOR})`);
  return fail('node', `v${version.replace(/^v/, '')} is older than ${MIN_NODE_MAJOR}`, `install Node.js ${MIN_NODE_MAJOR} or later (https://nodejs.org, or Debian's nodejs from bookworm-backports)`);
}

interface Manifest {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}
interface Lock {
  packages?: Record<string, { version?: string; optional?: boolean }>;
}

function parseJson<T>(text: string | null): T | null {
  if (text === null) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

/**
 * Every direct dependency of package.json: installed in node_modules at the
 * version package-lock.json pins. A missing optional one (tfjs-node, whose
 * install needs the internet) is fine.
 */
export async function checkNpmPackages(probes: DoctorProbes): Promise<CheckResult> {
  const name = 'npm packages';
  const root = probes.projectRoot;
  const manifest = parseJson<Manifest>(await probes.readFile(join(root, 'package.json')));
  if (!manifest) return fail(name, `cannot read ${join(root, 'package.json')}`, 'run tinyml doctor from a clone of tinyml-deploy');
  const lock = parseJson<Lock>(await probes.readFile(join(root, 'package-lock.json')));
  if (!lock?.packages) return fail(name, 'package-lock.json is missing or unreadable', 'git checkout package-lock.json, then npm ci');
  if (!(await probes.stat(join(root, 'node_modules')))?.isDirectory) {
    return fail(name, 'node_modules is missing', 'npm ci (or bash scripts/setup.sh)');
  }
  const optional = new Set(Object.keys(manifest.optionalDependencies ?? {}));
  const deps = [...new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.devDependencies ?? {}), ...optional])].sort();
  const problems: string[] = [];
  const absentOptional: string[] = [];
  for (const dep of deps) {
    const locked = lock.packages[`node_modules/${dep}`]?.version;
    const installed = parseJson<{ version?: string }>(await probes.readFile(join(root, 'node_modules', dep, 'package.json')))?.version;
    if (installed === undefined) {
      if (optional.has(dep)) absentOptional.push(dep);
      else problems.push(`${dep} missing`);
    } else if (locked === undefined) {
      problems.push(`${dep} ${installed} is not in package-lock.json`);
    } else if (installed !== locked) {
      problems.push(`${dep} ${installed} installed, lock says ${locked}`);
    }
  }
  if (problems.length > 0) return fail(name, problems.join('; '), 'npm ci (installs exactly what package-lock.json pins)');
  const present = deps.length - absentOptional.length;
  const note = absentOptional.length ? `; optional ${absentOptional.join(', ')} not installed` : '';
  return ok(name, `${present} direct dependencies match package-lock.json${note}`);
}

/** "backend 'tensorflow' is not available here (hint): Cannot find package 'x' imported from /p" -> "Cannot find package 'x'". */
function shortWhy(message: string): string {
  const colon = message.indexOf('): ');
  const why = colon >= 0 ? message.slice(colon + 3) : message;
  return why.replace(/ imported from \S+$/, '');
}

export function checkBackend(probe: BackendProbe): CheckResult {
  const name = 'tfjs backend';
  const whyNotNative = probe.tensorflowError ? `tfjs-node did not load: ${shortWhy(probe.tensorflowError)}` : '';
  switch (probe.backend) {
    case 'tensorflow':
      return ok(name, 'tensorflow (native libtensorflow through @tensorflow/tfjs-node)');
    case 'wasm':
      return ok(name, `wasm (${whyNotNative || 'tfjs-node not used'}; wasm is about 10x the pure-JS cpu backend)`);
    case 'cpu':
      return warn(name, `cpu, the slowest (${whyNotNative}; wasm did not initialize)`, 'npm ci, so that @tensorflow/tfjs-backend-wasm and its .wasm files are installed');
    default:
      return fail(name, `no backend initialized: ${probe.error ?? 'unknown reason'}`, 'npm ci (reinstalls @tensorflow/tfjs and its backends)');
  }
}
