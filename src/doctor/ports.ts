/**
 * Serial ports for a real board: each USB serial port with its VID:PID and board,
 * whether this user can open it, and whether another process holds it; the
 * dialout group; ModemManager, which probes new ACM ports and can hold a board's
 * port for seconds after it appears. All warnings: only real boards need ports.
 */
import { join } from 'node:path';
import { boardMatcher, NANO33BLE, type SerialPortInfo } from '../device/ports.ts';
import { firstLine, ok, warn, type CheckResult, type DoctorProbes, type FileInfo } from './types.ts';

export const SERIAL_GROUP = 'dialout';
const ONLY_FOR_BOARDS = 'only needed for a real board';

/** The board a port belongs to, from its VID:PID. */
export function boardName(port: SerialPortInfo): string {
  if (boardMatcher(NANO33BLE, 'app')(port)) return `${NANO33BLE.name} (sketch running)`;
  if (boardMatcher(NANO33BLE, 'bootloader')(port)) return `${NANO33BLE.name} (bootloader)`;
  const label = [port.manufacturer, port.product].filter(Boolean).join(' ');
  return label ? `not a known board: ${label}` : 'not a known board';
}

/** Whether `uid` with groups `gids` may open the node for reading and writing (root may always). */
export function canReadWrite(node: Pick<FileInfo, 'mode' | 'uid' | 'gid'>, uid: number, gids: readonly number[]): boolean {
  if (uid === 0) return true;
  const rw = 0o6;
  if (node.uid === uid) return ((node.mode >> 6) & rw) === rw;
  if (gids.includes(node.gid)) return ((node.mode >> 3) & rw) === rw;
  return (node.mode & rw) === rw;
}

export interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

/** /etc/group lines: name:password:gid:member,member */
export function parseGroupFile(text: string): GroupEntry[] {
  return text
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 4 && /^\d+$/.test(f[2]!))
    .map((f) => ({ name: f[0]!, gid: Number(f[2]), members: f[3]!.split(',').map((m) => m.trim()).filter(Boolean) }));
}

export interface UserGroups {
  readonly user: string;
  /** This login's groups, as `id -nG` and `id -G` list them. */
  readonly names: readonly string[];
  readonly gids: readonly number[];
}

async function userGroups(probes: DoctorProbes): Promise<UserGroups | string> {
  const [un, nG, G] = await Promise.all([probes.run('id', ['-un']), probes.run('id', ['-nG']), probes.run('id', ['-G'])]);
  for (const r of [un, nG, G]) if (r.exitCode !== 0) return r.notFound ? 'id not found' : `id failed: ${firstLine(r.stderr)}`;
  return {
    user: un.stdout.trim(),
    names: nG.stdout.trim().split(/\s+/).filter(Boolean),
    gids: G.stdout.trim().split(/\s+/).filter(Boolean).map(Number),
  };
}

export function checkDialout(uid: number, groups: UserGroups | string, groupFile: readonly GroupEntry[]): CheckResult {
  const name = `group ${SERIAL_GROUP}`;
  if (uid === 0) return ok(name, 'running as root, which opens any port');
  if (typeof groups === 'string') return warn(name, `cannot tell this user's groups: ${groups}`, `check with: id -nG (it should list ${SERIAL_GROUP})`);
  if (groups.names.includes(SERIAL_GROUP)) return ok(name, `${groups.user} is in ${SERIAL_GROUP}`);
  const listed = groupFile.find((g) => g.name === SERIAL_GROUP)?.members.includes(groups.user) ?? false;
  if (listed) {
    return warn(name, `${groups.user} was added to ${SERIAL_GROUP}, but this login started before that (id -nG lacks it)`, 'log out and back in (or run: newgrp dialout)');
  }
  return warn(name, `${groups.user} is not in ${SERIAL_GROUP} (id -nG: ${groups.names.join(' ') || 'none'}); ${ONLY_FOR_BOARDS}`, `sudo usermod -aG ${SERIAL_GROUP} ${groups.user}, then log out and back in`);
}

export interface Holder {
  readonly pid: number;
  readonly command: string;
}

/** Processes (other than `selfPid`) with one of `paths` open, from /proc/<pid>/fd links; and how many /proc entries could not be read. */
export async function findHolders(probes: DoctorProbes, paths: readonly string[]): Promise<{ holders: Map<string, Holder[]>; unreadable: number }> {
  const holders = new Map<string, Holder[]>(paths.map((p) => [p, []]));
  let unreadable = 0;
  const pids = ((await probes.readDir(probes.roots.proc)) ?? []).filter((n) => /^\d+$/.test(n) && Number(n) !== probes.pid);
  for (const pid of pids) {
    const fdDir = join(probes.roots.proc, pid, 'fd');
    const fds = await probes.readDir(fdDir);
    if (fds === null) {
      unreadable++;
      continue;
    }
    for (const fd of fds) {
      const target = await probes.readLink(join(fdDir, fd));
      const list = target === null ? undefined : holders.get(target);
      if (!list) continue;
      const command = (await probes.readFile(join(probes.roots.proc, pid, 'comm')))?.trim() ?? '?';
      if (!list.some((h) => h.pid === Number(pid))) list.push({ pid: Number(pid), command });
    }
  }
  return { holders, unreadable };
}

/** A udev rule that keeps ModemManager off Arduino's VID (ID_MM_DEVICE_IGNORE on 2341). */
export const MM_UDEV_RULE = 'ATTRS{idVendor}=="2341", ENV{ID_MM_DEVICE_IGNORE}="1"';
const MM_RULE_FILE = '/etc/udev/rules.d/99-tinyml-arduino.rules';

export async function checkModemManager(probes: DoctorProbes): Promise<CheckResult> {
  const name = 'ModemManager';
  const pids: number[] = [];
  for (const pid of ((await probes.readDir(probes.roots.proc)) ?? []).filter((n) => /^\d+$/.test(n))) {
    if ((await probes.readFile(join(probes.roots.proc, pid, 'comm')))?.trim() === 'ModemManager') pids.push(Number(pid));
  }
  if (pids.length === 0) return ok(name, 'not running');
  const rulesDir = join(probes.roots.etc, 'udev', 'rules.d');
  for (const file of ((await probes.readDir(rulesDir)) ?? []).filter((f) => f.endsWith('.rules')).sort()) {
    const text = (await probes.readFile(join(rulesDir, file))) ?? '';
    if (text.split('\n').some((l) => !l.trim().startsWith('#') && /ID_MM_DEVICE_IGNORE/.test(l) && /2341/.test(l))) {
      return ok(name, `running (pid ${pids.join(', ')}), but ${join(rulesDir, file)} keeps it off Arduino ports`);
    }
  }
  return warn(
    name,
    `running (pid ${pids.join(', ')}): it probes new ACM ports and can hold the board's port for seconds after each reset`,
    `sudo systemctl stop ModemManager, or: echo '${MM_UDEV_RULE}' | sudo tee ${MM_RULE_FILE} && sudo udevadm control --reload`,
  );
}

function describeNode(node: FileInfo, groupFile: readonly GroupEntry[]): string {
  const group = groupFile.find((g) => g.gid === node.gid)?.name ?? String(node.gid);
  return `mode ${(node.mode & 0o777).toString(8).padStart(3, '0')}, group ${group}`;
}

export async function checkPorts(probes: DoctorProbes): Promise<CheckResult[]> {
  const groupFile = parseGroupFile((await probes.readFile(join(probes.roots.etc, 'group'))) ?? '');
  const groups = await userGroups(probes);
  const results: CheckResult[] = [checkDialout(probes.uid, groups, groupFile), await checkModemManager(probes)];

  let ports: SerialPortInfo[];
  try {
    ports = (await probes.listPorts()).filter((p) => p.vendorId !== undefined);
  } catch (err) {
    results.unshift(warn('serial ports', `cannot list serial ports: ${firstLine((err as Error).message)}`, 'pass --port PATH to validate and flash'));
    return results;
  }
  if (ports.length === 0) {
    results.unshift(ok('serial ports', 'no USB serial port (the emulator needs none; plug in the board for --board nano33ble)'));
    return results;
  }
  const gids = typeof groups === 'string' ? [] : groups.gids;
  const { holders, unreadable } = await findHolders(probes, ports.map((p) => p.path));
  const portResults = await Promise.all(
    ports.map(async (port): Promise<CheckResult> => {
      const name = `port ${port.path}`;
      const id = `${port.vendorId}:${port.productId ?? '????'} ${boardName(port)}`;
      const node = await probes.stat(port.path);
      if (!node) return warn(name, `${id}; ${port.path} does not exist (no device node: no udev?)`, 'replug the board; check dmesg for the cdc_acm driver');
      if (!canReadWrite(node, probes.uid, gids)) {
        const group = groupFile.find((g) => g.gid === node.gid)?.name ?? SERIAL_GROUP;
        return warn(name, `${id}; this user cannot open it (${describeNode(node, groupFile)})`, `sudo usermod -aG ${group} ${typeof groups === 'string' ? '$USER' : groups.user}, then log out and back in`);
      }
      const held = holders.get(port.path) ?? [];
      if (held.length > 0) {
        const who = held.map((h) => `${h.command} (pid ${h.pid})`).join(', ');
        return warn(name, `${id}; held open by ${who}`, `close it: kill ${held.map((h) => h.pid).join(' ')} (a serial monitor, or ModemManager)`);
      }
      const note = unreadable > 0 ? `; ${unreadable} processes' open files not readable (run as root to see all)` : '';
      return ok(name, `${id}; can open, not held by another process${note}`);
    }),
  );
  results.unshift(...portResults);
  return results;
}
