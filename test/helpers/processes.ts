/** Child processes a test may have left behind. */
import { existsSync, readFileSync } from 'node:fs';
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

/** Whether `cmd --version` runs. */
export const hasCommand = (cmd: string): boolean => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;

/** Why the emulator end-to-end tests cannot run here, or false when they can. */
export function emulatorSkipReason(): string | false {
  if (!hasCommand('arm-none-eabi-gcc') || !hasCommand('qemu-system-arm')) return 'needs arm-none-eabi-gcc and qemu-system-arm (npm test installs them as root)';
  if (!existsSync('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz')) return 'needs dataset-fashion-mnist';
  return false;
}
