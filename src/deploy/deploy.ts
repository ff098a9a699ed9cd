/**
 * `tinyml deploy`'s flow: build, flash (on the emulator, booting is flashing),
 * then validate on the device.
 */
import { buildFirmware, formatBuild, type BuildResult } from './build.ts';
import { flashArduino, type FlashArgs } from './flash.ts';
import { checkBoard, resolveRuntime } from './targets.ts';
import { runValidate, type RunValidateOptions } from '../validate/run-validate.ts';
import type { ValidationReport } from '../validate/validate.ts';

/** flash's arguments, then validate's. */
export interface DeployArgs extends FlashArgs {
  samples: number;
  json: boolean;
  'data-dir'?: string;
  /** Passed to validate: results file, resume, reconnect timeout (s). */
  results?: string;
  resume?: boolean;
  'reconnect-timeout'?: number;
}

export interface DeployResult {
  readonly build: BuildResult;
  readonly validation: ValidationReport;
}

/** build + flash + validate; returns what the build made and the validation report. */
export async function runDeploy(
  args: DeployArgs,
  log: (line: string) => void,
  onProgress?: RunValidateOptions['onProgress'],
): Promise<DeployResult> {
  const board = checkBoard(args.board);
  const runtime = resolveRuntime(args);
  const built = await buildFirmware({
    modelDir: args.model,
    board,
    runtime,
    tflmDir: args['tflm-dir'],
    arduinoCli: args['arduino-cli'],
    log,
  });
  log(formatBuild(built));
  const common = {
    model: args.model,
    samples: args.samples,
    json: args.json,
    'data-dir': args['data-dir'],
    results: args.results,
    resume: args.resume,
    'reconnect-timeout': args['reconnect-timeout'],
  };
  const options = { log, onProgress };
  if (board === 'emulator') {
    // Booting the ELF is the emulator's flashing; validate owns QEMU's lifetime.
    return { build: built, validation: await runValidate({ ...common, board: 'emulator', elf: built.elf! }, options) };
  }
  const port = await flashArduino({ modelDir: args.model, runtime, port: args.port, arduinoCli: args['arduino-cli'], log });
  return { build: built, validation: await runValidate({ ...common, port }, options) };
}
