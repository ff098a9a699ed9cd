/** A link to firmware booted in QEMU, for code that talks to the emulator directly (benches, tests). */
import { DeviceLink } from './link.ts';
import { startQemu } from './qemu.ts';
import { SerialTransport } from './serial-transport.ts';

/** Boots `elf` in QEMU, opens its pty, runs `body` on the link, and closes the link and stops QEMU however it ends. */
export async function withEmulatorLink<T>(elf: string, body: (link: DeviceLink) => Promise<T>): Promise<T> {
  const qemu = await startQemu({ elf });
  const transport = new SerialTransport({ path: qemu.ptyPath });
  let link: DeviceLink | null = null;
  try {
    await transport.open();
    link = new DeviceLink(transport);
    return await body(link);
  } finally {
    await (link ? link.close() : transport.close());
    await qemu.stop();
  }
}
