/**
 * Splits a byte stream into frames at 0x00, as node-serialport's DelimiterParser
 * does, with two differences the link needs: empty blocks (two delimiters in a
 * row, or a leading flush byte) are skipped, and a block that grows past
 * `maxBlock` bytes without a delimiter is dropped while the splitter skips to the
 * next 0x00, so line noise can never grow the buffer without bound. Either way
 * the receiver resynchronizes at the next delimiter.
 *
 * FrameSplitter is a push parser for code that already owns a data callback;
 * FrameParser wraps it as a Transform stream (bytes in, one Uint8Array per block
 * out, object mode on the readable side) to pipe a port into.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { MAX_ENCODED } from './frames.ts';

export interface FrameSplitterOptions {
  /** Longest block kept, delimiter excluded; default the protocol's largest encoded frame. */
  readonly maxBlock?: number;
}

export class FrameSplitter {
  readonly maxBlock: number;
  private buf: Uint8Array;
  private len = 0;
  private skipping = false;
  /** Blocks dropped for exceeding maxBlock. */
  overflows = 0;

  constructor(options: FrameSplitterOptions = {}) {
    this.maxBlock = options.maxBlock ?? MAX_ENCODED - 1;
    this.buf = new Uint8Array(this.maxBlock);
  }

  /** Bytes held of an unfinished block. */
  get pending(): number {
    return this.len;
  }

  /** Feeds a chunk; returns the blocks it completes (copies, delimiter removed), in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let i = 0;
    while (i < chunk.length) {
      const zero = chunk.indexOf(0, i);
      const end = zero === -1 ? chunk.length : zero;
      if (!this.skipping) {
        const n = end - i;
        if (this.len + n > this.maxBlock) {
          this.overflows++;
          this.len = 0;
          this.skipping = true;
        } else {
          this.buf.set(chunk.subarray(i, end), this.len);
          this.len += n;
        }
      }
      if (zero === -1) break;
      if (!this.skipping && this.len > 0) out.push(this.buf.slice(0, this.len));
      this.len = 0;
      this.skipping = false;
      i = zero + 1;
    }
    return out;
  }

  /** Forgets any partial block (e.g. after reopening a port). */
  reset(): void {
    this.len = 0;
    this.skipping = false;
  }
}

export class FrameParser extends Transform {
  private readonly splitter: FrameSplitter;

  constructor(options: FrameSplitterOptions = {}) {
    super({ readableObjectMode: true });
    this.splitter = new FrameSplitter(options);
  }

  get overflows(): number {
    return this.splitter.overflows;
  }

  override _transform(chunk: Buffer | Uint8Array, _enc: BufferEncoding, cb: TransformCallback): void {
    for (const block of this.splitter.push(chunk)) this.push(block);
    cb();
  }

  /** An unfinished block at the end of the stream is not a frame: it is dropped. */
  override _flush(cb: TransformCallback): void {
    this.splitter.reset();
    cb();
  }
}
