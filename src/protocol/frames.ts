/**
 * Messages of protocol version 4 (docs/protocol.md) and their wire form:
 * `COBS(payload) 0x00` with payload = version u8, type u8, seq u16 LE, body
 * length u16 LE, CRC-16 LE of those six bytes, body, CRC-32 LE of everything
 * before it. Pure functions: encodeFrame turns a message into wire bytes,
 * decodeFrame turns one delimiter-free block back into a message or throws
 * FrameError saying what is wrong with it, and which request (type and
 * sequence number) it was when the header survived.
 */
import { TinymlError } from '../errors.ts';
import { cobsDecodePrefix, cobsEncode } from './cobs.ts';
import { crc16 } from './crc16.ts';
import { crc32 } from './crc32.ts';

export const PROTOCOL_VERSION = 4;
/** version, type, seq u16, body length u16, CRC-16 of those six bytes. */
export const HEADER_BYTES = 8;
export const CRC_BYTES = 4;
export const MAX_BODY = 1024;
export const MAX_PAYLOAD = HEADER_BYTES + MAX_BODY + CRC_BYTES;
/** Longest wire frame, delimiter included (PROTO_MAX_ENCODED). */
export const MAX_ENCODED = MAX_PAYLOAD + Math.floor(MAX_PAYLOAD / 254) + 2;
/** Sequence number of a BAD_FRAME that cannot name its request (the header was damaged); never used for requests. */
export const SEQ_UNKNOWN = 0xffff;
/** Longest LOG text (PROTO_LOG_MAX_TEXT). */
export const MAX_LOG_TEXT = 160;
/** INFER_CHUNK's body before the data: slot u8, offset u16. */
export const CHUNK_HEADER = 3;

export const MessageType = {
  HELLO: 0x01,
  // 0x02 was version 3's one-frame INFER: retired, inputs travel in chunks.
  INFER_CHUNK: 0x03,
  INFER_RUN: 0x04,
  INFO: 0x81,
  RESULT: 0x82,
  LOG: 0x83,
  CHUNK_ACK: 0x84,
  ERROR: 0x7f,
} as const;

import { ERROR_TEXT, ErrorCode } from './status-codes.ts';

export { ErrorCode, type ErrorCodeName } from './status-codes.ts';

/** "24 ARENA_TOO_SMALL (...)" for a status or ERROR code, "code 99" when unknown. */
export function describeErrorCode(code: number): string {
  if (code === ErrorCode.BAD_VERSION) return `${code} BAD_VERSION (protocol version is not ${PROTOCOL_VERSION})`;
  const text = ERROR_TEXT[code];
  return text ? `${code} ${text}` : `code ${code}`;
}

export type Runtime = 'native' | 'tflm';
export type CycleUnit = 'cpu-cycles' | 'emulated-instructions';
const RUNTIMES: readonly Runtime[] = ['native', 'tflm'];
const CYCLE_UNITS: readonly CycleUnit[] = ['cpu-cycles', 'emulated-instructions'];

/** The INFO body: what the device runs and how. */
export interface DeviceInfo {
  readonly protocolVersion: number;
  readonly runtime: Runtime;
  readonly cycleUnit: CycleUnit;
  /** Model CRC-32 of the .tflite bytes, unsigned. */
  readonly modelCrc32: number;
  readonly modelBytes: number;
  readonly arenaUsed: number;
  readonly arenaSize: number;
  readonly cpuHz: number;
  /** The `inputRank` leading dims of the input tensor; none when the model did not load. */
  readonly inputDims: readonly number[];
  readonly inputBytes: number;
  readonly inputScale: number;
  readonly inputZeroPoint: number;
  readonly outputCount: number;
  /** 0 when the model loaded, else an ErrorCode (describeErrorCode). */
  readonly modelStatus: number;
  readonly outputScale: number;
  readonly outputZeroPoint: number;
  /** Bytes the device's serial write dropped since boot (a host that stopped reading). */
  readonly txDroppedBytes: number;
  readonly board: string;
  /** TML_RUNTIME_VERSION of the firmware build, e.g. "native (tinyml-deploy 0.1.0)", or just "native" / "tflm". */
  readonly runtimeVersion: string;
  /** Largest INFER_CHUNK data (C); chunk k starts at k * C. */
  readonly chunkBytes: number;
  /** Inputs the device can assemble at once (INFER_CHUNK / INFER_RUN slot numbers 0 .. inputSlots-1). */
  readonly inputSlots: number;
  /** Largest encoded input a slot holds. */
  readonly stagingBytes: number;
  /** Input encodings the device decodes, bit e for encoding e (image-codec.ts). */
  readonly encodings: number;
  /** This boot's id (never 0): changes when the device restarts; LOG frames carry it too. */
  readonly bootId: number;
}

export interface HelloMessage {
  readonly type: 'hello';
  readonly seq: number;
  /** The host's random u32: the device's boot id derives from the first block it hears. */
  readonly nonce: number;
}
/** Bytes `offset` .. of the encoded input being assembled in `slot`. */
export interface InferChunkMessage {
  readonly type: 'infer-chunk';
  readonly seq: number;
  readonly slot: number;
  /** A multiple of INFO's chunkBytes. */
  readonly offset: number;
  /** 1 .. chunkBytes bytes. */
  readonly data: Uint8Array;
}
/** Decode the `length` encoded bytes of `slot` and run them. */
export interface InferRunMessage {
  readonly type: 'infer-run';
  readonly seq: number;
  readonly slot: number;
  readonly encoding: number;
  readonly length: number;
  /** CRC-32 of the decoded input tensor. */
  readonly crc32: number;
}
export interface ChunkAckMessage {
  readonly type: 'chunk-ack';
  readonly seq: number;
}
export interface InfoMessage {
  readonly type: 'info';
  readonly seq: number;
  readonly info: DeviceInfo;
}
export interface ResultMessage {
  readonly type: 'result';
  readonly seq: number;
  readonly top1: number;
  /** Cycles spent in Invoke, in INFO's cycle unit (u32). */
  readonly cycles: number;
  readonly outputs: Int8Array;
}
export interface ErrorMessage {
  readonly type: 'error';
  readonly seq: number;
  readonly code: number;
  readonly detail: number;
}
/**
 * One line of the device log. Unsolicited: `seq` is the device's own line
 * number (u16, wrapping), not a request's; a gap means lines were lost.
 */
export interface LogMessage {
  readonly type: 'log';
  readonly seq: number;
  /** The boot id of the device that wrote the line (INFO's bootId): line numbers restart at each boot. */
  readonly bootId: number;
  /** Printable ASCII, at most MAX_LOG_TEXT characters. */
  readonly text: string;
}
export type Message =
  | HelloMessage
  | InferChunkMessage
  | InferRunMessage
  | ChunkAckMessage
  | InfoMessage
  | ResultMessage
  | ErrorMessage
  | LogMessage;

/**
 * Which check failed: 'header' (the header's CRC-16: nothing in the frame can be
 * trusted), 'cobs', 'short', 'long', 'size' (the block is not as long as its
 * header says), 'crc' (the CRC-32), 'version', 'type', 'length' (wrong body
 * length for the type), 'value'.
 */
export type FrameProblem = 'cobs' | 'short' | 'long' | 'header' | 'size' | 'crc' | 'version' | 'type' | 'length' | 'value';

/** A received block is not a valid frame; `problem` says which check failed. */
export class FrameError extends TinymlError {
  constructor(
    readonly problem: FrameProblem,
    message: string,
    /** Sequence number from the header when the header's CRC-16 held, else null. */
    readonly seq: number | null = null,
    /** Message type code from the header, under the same condition. */
    readonly typeCode: number | null = null,
  ) {
    super(message);
  }
}

const INFO_FIXED = 60;
/** After INFO's strings: chunk bytes u16, slots u8, staging bytes u16, encodings u32, boot id u32. */
const INFO_TAIL = 13;
const RESULT_FIXED = 8;
const RUN_BODY = 8;
const LOG_HEADER = 4;

function checkSeq(seq: number): void {
  if (!Number.isInteger(seq) || seq < 0 || seq > 0xffff) throw new RangeError(`sequence number ${seq} is not a u16`);
}

function encodeInfoBody(info: DeviceInfo): Uint8Array {
  const name = asciiField(info.board, 'board name');
  const version = asciiField(info.runtimeVersion, 'runtime version');
  const minRank = info.modelStatus === 0 ? 1 : 0;
  if (info.inputDims.length < minRank || info.inputDims.length > 4) throw new RangeError(`input rank ${info.inputDims.length} not in ${minRank}..4`);
  const body = new Uint8Array(INFO_FIXED + 1 + name.length + 1 + version.length + INFO_TAIL);
  const v = new DataView(body.buffer);
  v.setUint8(0, info.protocolVersion);
  v.setUint8(1, RUNTIMES.indexOf(info.runtime));
  v.setUint8(2, CYCLE_UNITS.indexOf(info.cycleUnit));
  v.setUint8(3, info.inputDims.length);
  v.setUint32(4, info.modelCrc32 >>> 0, true);
  v.setUint32(8, info.modelBytes, true);
  v.setUint32(12, info.arenaUsed, true);
  v.setUint32(16, info.arenaSize, true);
  v.setUint32(20, info.cpuHz, true);
  info.inputDims.forEach((d, i) => v.setUint16(24 + 2 * i, d, true));
  v.setUint32(32, info.inputBytes, true);
  v.setFloat32(36, info.inputScale, true);
  v.setInt32(40, info.inputZeroPoint, true);
  v.setUint16(44, info.outputCount, true);
  v.setUint16(46, info.modelStatus, true);
  v.setFloat32(48, info.outputScale, true);
  v.setInt32(52, info.outputZeroPoint, true);
  v.setUint32(56, info.txDroppedBytes, true);
  let at = INFO_FIXED;
  for (const field of [name, version]) {
    body[at] = field.length;
    body.set(field, at + 1);
    at += 1 + field.length;
  }
  v.setUint16(at, info.chunkBytes, true);
  v.setUint8(at + 2, info.inputSlots);
  v.setUint16(at + 3, info.stagingBytes, true);
  v.setUint32(at + 5, info.encodings >>> 0, true);
  v.setUint32(at + 9, info.bootId >>> 0, true);
  return body;
}

function asciiField(text: string, what: string): Uint8Array {
  const bytes = Buffer.from(text, 'latin1');
  if (bytes.length > 255) throw new RangeError(`${what} longer than 255 bytes: ${text}`);
  return bytes;
}

/** Text as the host shows it: printable ASCII, anything else as '?'. */
function printable(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => (b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : '?')).join('');
}

function decodeInfoBody(body: Uint8Array, seq: number): DeviceInfo {
  const tooShort = () => new FrameError('length', `INFO body of ${body.length} bytes is too short for its strings`, seq);
  if (body.length < INFO_FIXED + 2 + INFO_TAIL) {
    throw new FrameError('length', `INFO body of ${body.length} bytes, expected at least ${INFO_FIXED + 2 + INFO_TAIL}`, seq);
  }
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const strings: string[] = [];
  let at = INFO_FIXED;
  for (let i = 0; i < 2; i++) {
    if (at >= body.length) throw tooShort();
    const n = body[at]!;
    if (at + 1 + n > body.length) throw tooShort();
    strings.push(printable(body.subarray(at + 1, at + 1 + n)));
    at += 1 + n;
  }
  if (at + INFO_TAIL !== body.length) {
    throw new FrameError('length', `INFO body of ${body.length} bytes, expected ${at + INFO_TAIL} for its board name and runtime version`, seq);
  }
  const chunkBytes = v.getUint16(at, true);
  const inputSlots = v.getUint8(at + 2);
  const stagingBytes = v.getUint16(at + 3, true);
  if (chunkBytes < 1 || inputSlots < 1 || stagingBytes < 1) {
    throw new FrameError('value', `INFO chunk size ${chunkBytes}, slots ${inputSlots}, staging ${stagingBytes}: each must be at least 1`, seq);
  }
  const runtime = RUNTIMES[v.getUint8(1)];
  const cycleUnit = CYCLE_UNITS[v.getUint8(2)];
  const rank = v.getUint8(3);
  if (!runtime) throw new FrameError('value', `INFO runtime ${v.getUint8(1)} is neither 0 (native) nor 1 (tflm)`, seq);
  if (!cycleUnit) throw new FrameError('value', `INFO cycle unit ${v.getUint8(2)} is neither 0 nor 1`, seq);
  // A model that did not load has no input: rank 0 (and the other model fields 0).
  const modelStatus = v.getUint16(46, true);
  const minRank = modelStatus === 0 ? 1 : 0;
  if (rank < minRank || rank > 4) throw new FrameError('value', `INFO input rank ${rank} is not in ${minRank}..4`, seq);
  const inputDims: number[] = [];
  for (let i = 0; i < rank; i++) inputDims.push(v.getUint16(24 + 2 * i, true));
  return {
    protocolVersion: v.getUint8(0),
    runtime,
    cycleUnit,
    modelCrc32: v.getUint32(4, true),
    modelBytes: v.getUint32(8, true),
    arenaUsed: v.getUint32(12, true),
    arenaSize: v.getUint32(16, true),
    cpuHz: v.getUint32(20, true),
    inputDims,
    inputBytes: v.getUint32(32, true),
    inputScale: v.getFloat32(36, true),
    inputZeroPoint: v.getInt32(40, true),
    outputCount: v.getUint16(44, true),
    modelStatus,
    outputScale: v.getFloat32(48, true),
    outputZeroPoint: v.getInt32(52, true),
    txDroppedBytes: v.getUint32(56, true),
    board: strings[0]!,
    runtimeVersion: strings[1]!,
    chunkBytes,
    inputSlots,
    stagingBytes,
    encodings: v.getUint32(at + 5, true),
    bootId: v.getUint32(at + 9, true),
  };
}

export function int8Bytes(a: Int8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function bodyOf(msg: Message): Uint8Array {
  switch (msg.type) {
    case 'hello': {
      const body = new Uint8Array(4);
      new DataView(body.buffer).setUint32(0, msg.nonce >>> 0, true);
      return body;
    }
    case 'infer-chunk': {
      if (msg.data.length < 1) throw new RangeError('INFER_CHUNK without data');
      const body = new Uint8Array(CHUNK_HEADER + msg.data.length);
      const v = new DataView(body.buffer);
      v.setUint8(0, msg.slot);
      v.setUint16(1, msg.offset, true);
      body.set(msg.data, CHUNK_HEADER);
      return body;
    }
    case 'infer-run': {
      const body = new Uint8Array(RUN_BODY);
      const v = new DataView(body.buffer);
      v.setUint8(0, msg.slot);
      v.setUint8(1, msg.encoding);
      v.setUint16(2, msg.length, true);
      v.setUint32(4, msg.crc32 >>> 0, true);
      return body;
    }
    case 'chunk-ack':
      return new Uint8Array(0);
    case 'info':
      return encodeInfoBody(msg.info);
    case 'result': {
      const body = new Uint8Array(RESULT_FIXED + msg.outputs.length);
      const v = new DataView(body.buffer);
      v.setUint8(0, msg.top1);
      v.setUint16(2, msg.outputs.length, true);
      v.setUint32(4, msg.cycles >>> 0, true);
      body.set(int8Bytes(msg.outputs), RESULT_FIXED);
      return body;
    }
    case 'error':
      return Uint8Array.of(msg.code, msg.detail);
    case 'log': {
      const text = Buffer.from(msg.text, 'latin1');
      if (text.length < 1 || text.length > MAX_LOG_TEXT) throw new RangeError(`LOG text of ${text.length} bytes not in 1..${MAX_LOG_TEXT}`);
      const body = new Uint8Array(LOG_HEADER + text.length);
      new DataView(body.buffer).setUint32(0, msg.bootId >>> 0, true);
      body.set(text, LOG_HEADER);
      return body;
    }
  }
}

const TYPE_CODE: Readonly<Record<Message['type'], number>> = {
  hello: MessageType.HELLO,
  'infer-chunk': MessageType.INFER_CHUNK,
  'infer-run': MessageType.INFER_RUN,
  'chunk-ack': MessageType.CHUNK_ACK,
  info: MessageType.INFO,
  result: MessageType.RESULT,
  error: MessageType.ERROR,
  log: MessageType.LOG,
};

/** The payload (header, body, CRC) of a message, before COBS. */
export function encodePayload(msg: Message, version = PROTOCOL_VERSION): Uint8Array {
  checkSeq(msg.seq);
  const body = bodyOf(msg);
  if (body.length > MAX_BODY) throw new RangeError(`${msg.type} body of ${body.length} bytes exceeds ${MAX_BODY}`);
  const payload = new Uint8Array(HEADER_BYTES + body.length + CRC_BYTES);
  const v = new DataView(payload.buffer);
  v.setUint8(0, version);
  v.setUint8(1, TYPE_CODE[msg.type]);
  v.setUint16(2, msg.seq, true);
  v.setUint16(4, body.length, true);
  v.setUint16(6, crc16(payload, 0, 6), true);
  payload.set(body, HEADER_BYTES);
  v.setUint32(HEADER_BYTES + body.length, crc32(payload, 0, 0, HEADER_BYTES + body.length), true);
  return payload;
}

/** Wraps a payload for the wire: COBS, then the 0x00 delimiter. */
export function framePayload(payload: Uint8Array): Uint8Array {
  const enc = cobsEncode(payload);
  const wire = new Uint8Array(enc.length + 1);
  wire.set(enc);
  return wire;
}

/** Wire bytes of a message: COBS(payload) 0x00. */
export function encodeFrame(msg: Message): Uint8Array {
  return framePayload(encodePayload(msg));
}

/**
 * Checks a decoded payload and returns its message.
 * @throws FrameError for a short or long payload, a damaged header, a length
 *         other than the header's, a failing CRC-32, another protocol version,
 *         an unknown type, or a body of the wrong length for its type
 */
export function decodePayload(payload: Uint8Array): Message {
  return checkPayload(payload, true, false);
}

/** The header's sequence number and type when its CRC-16 holds, else null. */
function trustedHeader(bytes: Uint8Array): { seq: number; type: number; length: number } | null {
  if (bytes.length < HEADER_BYTES) return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  if (v.getUint16(6, true) !== crc16(bytes, 0, 6)) return null;
  return { type: v.getUint8(1), seq: v.getUint16(2, true), length: v.getUint16(4, true) };
}

function checkPayload(payload: Uint8Array, complete: boolean, tooLong: boolean): Message {
  const h = trustedHeader(payload);
  if (!h) {
    if (payload.length < HEADER_BYTES) {
      if (!complete) throw new FrameError('cobs', 'malformed COBS block');
      throw new FrameError('short', `frame of ${payload.length} bytes is shorter than a header`);
    }
    const other = payload[0] !== PROTOCOL_VERSION ? ` (version byte ${payload[0]}, this host speaks ${PROTOCOL_VERSION})` : '';
    throw new FrameError('header', `frame header check failed${other}`);
  }
  const { seq, type } = h;
  const fail = (problem: FrameProblem, message: string) => new FrameError(problem, message, seq, type);
  if (!complete) throw fail('cobs', `malformed COBS block (sequence ${seq})`);
  if (tooLong || payload.length > MAX_PAYLOAD) throw fail('long', `frame of ${payload.length} bytes exceeds ${MAX_PAYLOAD}`);
  if (h.length > MAX_BODY || payload.length !== HEADER_BYTES + h.length + CRC_BYTES) {
    throw fail('size', `frame of ${payload.length} bytes, its header says a body of ${h.length}`);
  }
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const end = payload.length - CRC_BYTES;
  const want = v.getUint32(end, true);
  const got = crc32(payload, 0, 0, end);
  if (want !== got) throw fail('crc', `frame CRC 0x${want.toString(16)} != computed 0x${got.toString(16)}`);
  const version = v.getUint8(0);
  if (version !== PROTOCOL_VERSION) throw new FrameError('version', `frame of protocol version ${version}, expected ${PROTOCOL_VERSION}`, seq, type);
  const body = payload.slice(HEADER_BYTES, end);
  const need = (n: number, name: string) => {
    if (body.length !== n) throw new FrameError('length', `${name} body of ${body.length} bytes, expected ${n}`, seq);
  };
  switch (type) {
    case MessageType.HELLO:
      need(4, 'HELLO');
      return { type: 'hello', seq, nonce: new DataView(body.buffer, body.byteOffset, 4).getUint32(0, true) };
    case MessageType.INFER_CHUNK: {
      if (body.length <= CHUNK_HEADER) throw new FrameError('length', `INFER_CHUNK body of ${body.length} bytes, expected more than ${CHUNK_HEADER}`, seq);
      const b = new DataView(body.buffer, body.byteOffset, body.byteLength);
      return { type: 'infer-chunk', seq, slot: b.getUint8(0), offset: b.getUint16(1, true), data: body.subarray(CHUNK_HEADER) };
    }
    case MessageType.INFER_RUN: {
      need(RUN_BODY, 'INFER_RUN');
      const b = new DataView(body.buffer, body.byteOffset, body.byteLength);
      return { type: 'infer-run', seq, slot: b.getUint8(0), encoding: b.getUint8(1), length: b.getUint16(2, true), crc32: b.getUint32(4, true) };
    }
    case MessageType.CHUNK_ACK:
      need(0, 'CHUNK_ACK');
      return { type: 'chunk-ack', seq };
    case MessageType.INFO:
      return { type: 'info', seq, info: decodeInfoBody(body, seq) };
    case MessageType.RESULT: {
      if (body.length < RESULT_FIXED) throw new FrameError('length', `RESULT body of ${body.length} bytes, expected at least ${RESULT_FIXED}`, seq);
      const b = new DataView(body.buffer, body.byteOffset, body.byteLength);
      const n = b.getUint16(2, true);
      need(RESULT_FIXED + n, `RESULT with ${n} outputs`);
      return {
        type: 'result',
        seq,
        top1: b.getUint8(0),
        cycles: b.getUint32(4, true),
        outputs: new Int8Array(body.buffer, body.byteOffset + RESULT_FIXED, n),
      };
    }
    case MessageType.ERROR:
      need(2, 'ERROR');
      return { type: 'error', seq, code: body[0]!, detail: body[1]! };
    case MessageType.LOG:
      if (body.length < LOG_HEADER + 1 || body.length > LOG_HEADER + MAX_LOG_TEXT) {
        throw new FrameError('length', `LOG body of ${body.length} bytes, expected ${LOG_HEADER + 1}..${LOG_HEADER + MAX_LOG_TEXT}`, seq);
      }
      return {
        type: 'log',
        seq,
        bootId: new DataView(body.buffer, body.byteOffset, LOG_HEADER).getUint32(0, true),
        text: printable(body.subarray(LOG_HEADER)),
      };
    default:
      throw new FrameError('type', `unknown message type 0x${type.toString(16).padStart(2, '0')}`, seq);
  }
}

/**
 * Decodes one block received between delimiters (delimiter removed). A block
 * damaged after its header still names its request: the FrameError's seq and
 * typeCode are set whenever the header's CRC-16 held.
 * @throws FrameError
 */
export function decodeFrame(block: Uint8Array): Message {
  const tooLong = block.length > MAX_ENCODED - 1;
  const { bytes, complete } = cobsDecodePrefix(tooLong ? block.subarray(0, MAX_ENCODED - 1) : block);
  return checkPayload(bytes, complete && !tooLong, tooLong);
}
