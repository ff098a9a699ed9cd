/**
 * Every failure a user can cause or fix is one of these classes. The CLI prints
 * `error: <message>` on one line and exits non-zero; the message names the file
 * or flag at fault and says what to do about it.
 */
export class TinymlError extends Error {
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A flag or argument has a value we cannot use. */
export class UsageError extends TinymlError {
  override readonly exitCode = 2;
}

/** A data file (IDX, JSON, model) is missing, truncated or malformed. */
export class DataFormatError extends TinymlError {}

/** A dataset could not be found anywhere we look, nor downloaded. */
export class DatasetNotFoundError extends TinymlError {}

/** A model uses something we cannot quantize, export or run (a Conv2D layer, say). */
export class UnsupportedModelError extends TinymlError {}

/**
 * A model is well formed but outside the bounds our int8 kernels and the serial
 * link handle (src/reference/limits.ts; firmware TML_ERR_MODEL_LIMIT): a
 * requantization shift over 30, a softmax row over 511, an input or output row
 * larger than one frame.
 */
export class ModelLimitError extends UnsupportedModelError {}

/** A file is not a TFLite flatbuffer we can read, or breaks one of its invariants. */
export class TfliteFormatError extends TinymlError {}

/** The host TFLite interpreter could not be loaded or refused a model. */
export class InterpreterError extends TinymlError {}

/** An external tool (compiler, emulator, arduino-cli) failed; `output` holds its stderr. */
export class ToolError extends TinymlError {
  constructor(
    message: string,
    readonly tool: string,
    readonly output: string,
    options?: { cause?: unknown },
  ) {
    super(output.trim() ? `${message}\n${output.trim()}` : message, options);
  }
}
