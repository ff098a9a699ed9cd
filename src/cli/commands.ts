/**
 * Every command of the CLI: how it is written in the help, its one line, and how
 * to load it. Only the command that runs is loaded (with its dependencies: the
 * training framework, BullMQ, the charts), so `tinyml --help` and light
 * commands start fast. This list is where a command's name and line live: the
 * modules carry only their options (builder) and handler.
 */
import type { CommandModule } from 'yargs';

export interface CommandEntry {
  /** The yargs command string, as the help lists it. */
  readonly command: string;
  readonly describe: string;
  readonly load: () => Promise<CommandModule<any, any>>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { command: 'train', describe: 'Train a dense Fashion-MNIST classifier and save it in a model folder', load: async () => (await import('./commands/train.ts')).trainCommand },
  { command: 'predict', describe: 'Class probabilities of the float model for one test image', load: async () => (await import('./commands/predict.ts')).predictCommand },
  { command: 'quantize', describe: 'Full-integer int8 post-training quantization: writes DIR/model_int8.tflite', load: async () => (await import('./commands/quantize.ts')).quantizeCommand },
  { command: 'export', describe: 'Write DIR/model_data.h and DIR/model_data.cc: the int8 .tflite as a C array with its constants', load: async () => (await import('./commands/export.ts')).exportCommand },
  { command: 'evaluate', describe: 'Accuracy of the float and int8 models, and proof that the int8 reference computes what TFLite computes', load: async () => (await import('./commands/evaluate.ts')).evaluateCommand },
  { command: 'pipeline', describe: 'Train (if needed), quantize, export and evaluate a model in one go', load: async () => (await import('./commands/pipeline.ts')).pipelineCommand },
  { command: 'build', describe: 'Check the memory budget, then compile firmware that runs the int8 model', load: async () => (await import('./commands/build.ts')).buildCommand },
  { command: 'flash', describe: 'Put the built firmware on the board: boot it in QEMU (prints the serial pty), or arduino-cli upload', load: async () => (await import('./commands/flash.ts')).flashCommand },
  { command: 'validate', describe: 'Run the int8 model on the emulator or a board over serial and prove it computes what the reference computes', load: async () => (await import('./commands/validate.ts')).validateCommand },
  { command: 'deploy', describe: 'build + flash + validate: the int8 model on the board, proven sample by sample', load: async () => (await import('./commands/deploy.ts')).deployCommand },
  { command: 'doctor', describe: 'Check Node, npm and Debian packages, dataset, toolchain, QEMU, arduino-cli and serial ports; say how to fix each problem', load: async () => (await import('./commands/doctor.ts')).doctorCommand },
  { command: 'exercise', describe: 'The TinyML course exercise end to end: five models trained, quantized, evaluated and run on the board, with an HTML report', load: async () => (await import('./commands/exercise.ts')).exerciseCommand },
  { command: 'report', describe: 'Write DIR/report.html: one self-contained page with the model\'s training, host and device figures', load: async () => (await import('./commands/report.ts')).reportCommand },
  { command: 'worker', describe: 'Serve a board farm: run shard jobs from Redis on one attached board or emulator (or, with --train, training jobs) until Ctrl-C', load: async () => (await import('./commands/worker.ts')).workerCommand },
  { command: 'submit', describe: "Validate a model on a board farm: store it in Redis and queue its test samples as shards for the farm's workers", load: async () => (await import('./commands/submit.ts')).submitCommand },
  { command: 'farm <command>', describe: 'Look at a board farm (tinyml farm status)', load: async () => (await import('./commands/farm.ts')).farmCommand },
];
