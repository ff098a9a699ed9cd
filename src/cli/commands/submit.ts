import type { CommandModule } from 'yargs';
import { modelDirOption } from '../options.ts';
import { runSubmit, type SubmitArgs } from '../../farm/submit.ts';
import { formatFarmReport } from '../../farm/format.ts';
import { assertValidationPassed } from '../../validate/validate.ts';
import { sampleProgress } from '../progress.ts';

export const submitCommand: CommandModule<object, SubmitArgs & { json: boolean }> = {
  builder: (y) =>
    y
      .option('redis', { type: 'string', demandOption: true, describe: "The farm's Redis: redis://[:password@]host:port[/db] or rediss:// (TLS)" })
      .options(modelDirOption)
      .option('board', { type: 'string', choices: ['emulator', 'nano33ble'], demandOption: true, describe: 'Kind of board to run on' })
      .option('samples', { type: 'number', default: 1000, describe: 'Test images to run (the first N of the test set)' })
      .option('shards', { type: 'number', default: 1, describe: 'Jobs to split the samples into (one board runs one shard at a time)' })
      .option('attempts', { type: 'number', default: 5, describe: 'Tries per shard before the submission fails' })
      .option('wait', { type: 'boolean', default: false, describe: 'Wait for the merged report and print it' })
      .option('timeout', { type: 'number', default: 0, describe: 'With --wait: give up waiting after this many seconds (0: never)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object' })
      .example('$0 submit --redis redis://:secret@farm.local:6379 --model models/default --board emulator --samples 3000 --shards 6 --wait', '') as never,
  handler: async (args) => {
    const r = await runSubmit(args, {
      log: args.json ? undefined : (line) => process.stderr.write(`${line}\n`),
      onProgress: sampleProgress(args.json),
    });
    if (!r.result) {
      const line = { jobId: r.jobId, modelSha256: r.modelSha256, board: r.board, samples: r.samples, shards: r.shards, reused: r.reused };
      console.log(args.json ? JSON.stringify(line) : `${r.reused ? 'already queued' : 'queued'} ${r.shards} shards of ${r.samples} samples as ${r.jobId}`);
      return;
    }
    const report = r.result.report;
    console.log(args.json ? JSON.stringify({ ...report, jobId: r.jobId, reused: r.reused }) : formatFarmReport(report, r.reused));
    assertValidationPassed(report);
  },
};
