/**
 * Errors of the device link. Each names the port or sample at fault and says
 * what to do; the original error, if any, is kept as `cause`.
 */
import { TinymlError } from '../errors.ts';

/** A serial port could not be opened, written or kept open. */
export class SerialPortError extends TinymlError {
  constructor(
    message: string,
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The transport closed (cable pulled, emulator died) while the link needed it. */
export class TransportClosedError extends TinymlError {}

/** The device never answered HELLO with INFO. */
export class HandshakeTimeoutError extends TinymlError {}

/** One sample got no valid answer after all retries. */
export class DeviceTimeoutError extends TinymlError {
  constructor(
    message: string,
    /** Index of the sample in the batch given to infer(). */
    readonly sample: number,
    readonly seq: number,
    readonly attempts: number,
  ) {
    super(message);
  }
}

/** The device answered a request with an ERROR other than BAD_FRAME, or an answer that cannot be right. */
export class DeviceReportedError extends TinymlError {
  constructor(
    message: string,
    readonly code: number,
    readonly detail: number,
    readonly sample: number | null,
  ) {
    super(message);
  }
}

/** The device runs another model than the host's, or one it could not load. */
export class DeviceModelError extends TinymlError {}

/** The device could not load the model because its tensor arena is too small (ERROR code ARENA_TOO_SMALL). */
export class ArenaTooSmallError extends DeviceModelError {
  constructor(
    message: string,
    /** Bytes the model needs (a lower bound from TFLM), or null when the device could not tell. */
    readonly neededBytes: number | null,
    /** Bytes of arena the firmware has. */
    readonly availableBytes: number,
  ) {
    super(message);
  }
}

/** No serial port of the board appeared in time. */
export class PortNotFoundError extends TinymlError {}

/** The user interrupted the run (Ctrl-C); exit code 130 as shells expect. */
export class InterruptedError extends TinymlError {
  override readonly exitCode = 130;
}
