import type { CommandModule } from 'yargs';
import { dataOptions, windowOption } from '../options.ts';
import { runWorker, type WorkerArgs } from '../../farm/worker.ts';

export const workerCommand: CommandModule<object, WorkerArgs> = {
  builder: (y) =>
    y
      .option('redis', { type: 'string', demandOption: true, describe: "The farm's Redis: redis://[:password@]host:port[/db] or rediss:// (TLS)" })
      .option('board', { type: 'string', choices: ['emulator', 'nano33ble'], describe: 'The kind of board this worker drives' })
      .option('train', { type: 'boolean', default: false, describe: 'Take training jobs (tinyml exercise --redis) instead of driving a board' })
      .option('port', { type: 'string', describe: 'Serial port of the nano33ble this worker drives' })
      .option('runtime', { type: 'string', choices: ['native', 'tflm'], describe: 'Firmware runtime (default native on the emulator, tflm on the Nano)' })
      .option('name', { type: 'string', describe: 'Worker id in farm status (default host-board-pid)' })
      .option('tflm-dir', { type: 'string', describe: 'TFLM source tree, for --runtime tflm on the emulator' })
      .option('cache-dir', { type: 'string', describe: 'Where built firmware is kept, by model hash (default build/farm)' })
      .option('lock-ms', { type: 'number', default: 30000, describe: 'Milliseconds a job stays locked without renewal before another worker takes it over' })
      .options(windowOption)
      .option('data-dir', dataOptions['data-dir'])
      .example('$0 worker --redis redis://:secret@farm.local:6379 --board emulator', 'one emulator worker')
      .example('$0 worker --redis rediss://:secret@farm.local:6380 --board nano33ble --port /dev/ttyACM0', 'a worker for a Nano on a USB port')
      .example('$0 worker --redis redis://:secret@farm.local:6379 --train', 'a worker that trains the stages of tinyml exercise --redis') as never,
  handler: async (args) => {
    const summary = await runWorker(args, (line) => process.stderr.write(`${line}\n`));
    console.log(`worker ${summary.worker} stopped after ${summary.jobs} jobs (${summary.samples} samples)`);
  },
};
