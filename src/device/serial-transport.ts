/**
 * Transport over a real serial port (node-serialport): a board's USB CDC port
 * or the pty QEMU connects its UART to. Always 115200 8N1; never 1200 baud,
 * which on Arduino boards means "reset into the bootloader".
 */
import { SerialPort } from 'serialport';
import { SerialPortError, TransportClosedError } from './errors.ts';
import type { Transport } from './transport.ts';
import { TransportEvents } from './transport-events.ts';

export const LINK_BAUD_RATE = 115200;

export interface SerialTransportOptions {
  readonly path: string;
  /** Exclusive access (TIOCEXCL), so a serial monitor cannot steal frames; default true. */
  readonly lock?: boolean;
}

/** Turns an open/write failure into one line naming the port and what to do. */
export function explainSerialError(err: unknown, path: string, action: 'open' | 'write'): SerialPortError {
  const text = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: string } | null)?.code ?? '';
  let fix: string;
  if (code === 'ENOENT' || /ENOENT|No such file/i.test(text)) {
    fix = 'no such port: check the cable and --port (ls /dev/ttyACM* /dev/ttyUSB*)';
  } else if (code === 'EACCES' || /EACCES|Permission denied/i.test(text)) {
    fix = "permission denied: add yourself to the 'dialout' group (sudo usermod -aG dialout $USER) and log in again";
  } else if (code === 'EBUSY' || /EBUSY|lock|busy/i.test(text)) {
    fix = 'the port is in use: close any serial monitor or other program holding it';
  } else if (code === 'ENOTTY' || /ENOTTY|Inappropriate ioctl|Not a typewriter/i.test(text)) {
    fix = 'it is not a serial port (not a tty): pass the board\'s port, e.g. /dev/ttyACM0';
  } else if (/EIO|Input\/output/i.test(text)) {
    fix = 'the device went away: reconnect it (or restart the emulator) and try again';
  } else {
    fix = 'check the cable and the --port path';
  }
  return new SerialPortError(`cannot ${action} serial port ${path}: ${fix} (${text})`, path, { cause: err });
}

export class SerialTransport implements Transport {
  readonly description: string;
  private readonly port: SerialPort;
  private readonly events = new TransportEvents();
  private closed = false;
  private closing = false;

  constructor(readonly options: SerialTransportOptions) {
    this.description = options.path;
    this.port = new SerialPort({
      path: options.path,
      baudRate: LINK_BAUD_RATE,
      dataBits: 8,
      parity: 'none',
      stopBits: 1,
      autoOpen: false,
      lock: options.lock ?? true,
    });
    this.port.on('data', (chunk: Buffer) => {
      this.events.emitData(chunk);
    });
    // 'error' after open comes with (or before) 'close'; report it once, through onClose.
    let lastError: Error | null = null;
    this.port.on('error', (err: Error) => {
      lastError = err;
    });
    this.port.on('close', (err?: Error | null) => {
      const error = this.closing ? null : explainSerialError(err ?? lastError ?? new Error('port closed'), options.path, 'open');
      this.finish(error);
    });
  }

  get isOpen(): boolean {
    return this.port.isOpen && !this.closed;
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.port.open((err) => (err ? reject(explainSerialError(err, this.options.path, 'open')) : resolve()));
    });
  }

  write(bytes: Uint8Array): Promise<void> {
    if (!this.isOpen) return Promise.reject(new TransportClosedError(`serial port ${this.options.path} is not open`));
    return new Promise((resolve, reject) => {
      this.port.write(Buffer.from(bytes), (err) => (err ? reject(explainSerialError(err, this.options.path, 'write')) : resolve()));
    });
  }

  async close(): Promise<void> {
    if (this.closed || this.closing) return;
    this.closing = true;
    if (!this.port.isOpen) {
      this.finish(null);
      return;
    }
    await new Promise<void>((resolve) => {
      this.port.close(() => resolve());
    });
    this.finish(null);
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    return this.events.onData(listener);
  }

  onClose(listener: (error: Error | null) => void): () => void {
    return this.events.onClose(listener);
  }

  private finish(error: Error | null): void {
    if (this.closed) return;
    this.closed = true;
    this.events.emitClose(error);
  }
}
