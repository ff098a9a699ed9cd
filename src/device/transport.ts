/**
 * The byte pipe between host and device. Types only: the real implementation is
 * serial-transport.ts (node-serialport), the in-memory device simulator is
 * test/helpers/mock-device.ts; link.ts is written against this interface alone, so the
 * link logic is tested without hardware and the same code drives a board.
 *
 * Contract:
 * - open() resolves once bytes can flow, or rejects with a typed error (the
 *   real one: SerialPortError naming the path and a fix). Opening twice is an error.
 * - write(bytes) resolves when the bytes have been handed to the OS (drained),
 *   in call order; it rejects with TransportClosedError when not open. The
 *   caller may reuse `bytes` after the promise resolves.
 * - onData listeners receive received bytes in order, with arbitrary chunk
 *   boundaries (a frame may span chunks, a chunk may hold several frames). The
 *   chunk is only valid during the call.
 * - onClose listeners run exactly once when the transport closes: with null
 *   after close(), or with the error when it closed on its own (device gone,
 *   emulator died). Asynchronous failures are reported here and only here;
 *   failures of a call are reported by that call's promise and only there.
 * - close() is idempotent and resolves when the port is released.
 * - Both on* methods return a function that removes the listener.
 */
export interface Transport {
  /** Human-readable name for messages, e.g. the port path or "mock device". */
  readonly description: string;
  readonly isOpen: boolean;
  open(): Promise<void>;
  close(): Promise<void>;
  write(bytes: Uint8Array): Promise<void>;
  onData(listener: (chunk: Uint8Array) => void): () => void;
  onClose(listener: (error: Error | null) => void): () => void;
}
