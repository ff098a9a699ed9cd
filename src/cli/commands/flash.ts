import type { CommandModule } from 'yargs';
import { existsSync } from 'node:fs';
import { modelDirOption } from '../options.ts';
import { UsageError } from '../../errors.ts';
import { checkBoard, emulatorElf, resolveRuntime } from '../../deploy/targets.ts';
import { flashArduino, flashEmulator, type FlashArgs } from '../../deploy/flash.ts';
import { boardOptions } from './build.ts';

export const flashCommand: CommandModule<object, FlashArgs> = {
  builder: (y) =>
    y
      .options(modelDirOption)
      .options(boardOptions)
      .option('port', { type: 'string', describe: 'Serial port of the Nano 33 BLE (default: found by its USB ids)' })
      .example('$0 flash --model models/default --board emulator', 'runs QEMU until Ctrl-C; validate with --port <pty>')
      .example('$0 flash --model models/default --board nano33ble --port /dev/ttyACM0', 'uploads and waits for the port') as never,
  handler: async (args) => {
    const board = checkBoard(args.board);
    const runtime = resolveRuntime(args);
    if (board === 'nano33ble') {
      const port = await flashArduino({
        modelDir: args.model,
        runtime,
        port: args.port,
        arduinoCli: args['arduino-cli'],
        log: (l) => process.stderr.write(`${l}\n`),
      });
      console.log(`flashed; the board is on ${port}`);
      return;
    }
    const elf = emulatorElf(args.model, runtime);
    if (!existsSync(elf)) {
      throw new UsageError(`firmware ${elf} is missing: run tinyml build --model ${args.model} --board emulator first`);
    }
    const qemu = await flashEmulator(elf);
    console.log(qemu.ptyPath);
    process.stderr.write(
      `QEMU runs ${elf}; its serial port is ${qemu.ptyPath}\n` +
        `validate with: tinyml validate --model ${args.model} --port ${qemu.ptyPath}   (Ctrl-C here stops QEMU)\n`,
    );
    const stop = () => void qemu.stop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const exit = await qemu.exited;
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.stderr.write(`QEMU stopped (${exit.signal ?? `exit code ${exit.exitCode}`})\n`);
  },
};
