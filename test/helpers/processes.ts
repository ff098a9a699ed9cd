/** Child processes a test may have left behind. */
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

/** QEMU processes still running whose command line mentions `dir`. */
export function qemuUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const pid of spawnSync('pgrep', ['-f', 'qemu-system-arm'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) pids.push(Number(pid));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}
