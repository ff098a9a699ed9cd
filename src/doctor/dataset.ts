/** The Fashion-MNIST IDX files, looked for exactly where src/data/ looks for them. */
import { dataSearchOrder, FASHION_MNIST_BASE_URL, findSplitFiles, type Split } from '../data/fashion-mnist.ts';
import { fail, ok, warn, type CheckResult, type DoctorProbes } from './types.ts';

const SPLITS: readonly Split[] = ['train', 'test'];

export async function checkDataset(probes: DoctorProbes): Promise<CheckResult> {
  const name = 'dataset';
  const order = dataSearchOrder({ systemDirs: probes.dataSystemDirs }, probes.env);
  if (order.pinned) {
    const { dir, how } = order.pinned;
    const missing: string[] = [];
    for (const split of SPLITS) {
      const hit = await findSplitFiles(dir, split);
      if ('missing' in hit) missing.push(...hit.missing);
    }
    if (missing.length > 0) {
      return fail(name, `${dir} (from ${how}) lacks ${missing.join(', ')}`, `put the four IDX files (.gz or raw) in ${dir}, or unset ${how}`);
    }
    return ok(name, `train and test in ${dir} (from ${how})`);
  }
  const dirs = 'dirs' in order ? order.dirs : [];
  const where = new Map<Split, string>();
  for (const split of SPLITS) {
    let found: string | undefined;
    for (const dir of dirs) {
      if (!('missing' in (await findSplitFiles(dir, split)))) {
        found = dir;
        break;
      }
    }
    if (found === undefined) {
      return warn(
        name,
        `${split} files in none of ${dirs.join(', ')}; the first run downloads them from ${probes.env.TINYML_DATA_URL ?? FASHION_MNIST_BASE_URL} (needs internet)`,
        'sudo apt-get install -y dataset-fashion-mnist (or set TINYML_DATA_DIR to a folder with the IDX files)',
      );
    }
    where.set(split, found);
  }
  const [train, test] = [where.get('train'), where.get('test')];
  const found = train === test ? `train and test in ${train}` : `train in ${train}, test in ${test}`;
  return ok(name, `${found} (looked in ${dirs.join(', ')})`);
}
