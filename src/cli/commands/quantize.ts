import type { CommandModule } from 'yargs';
import { dataOptions, modelDirOption } from '../options.ts';
import { runQuantize, type QuantizeArgs } from '../../quantize/quantize-folder.ts';

export const quantizeCommand: CommandModule<object, QuantizeArgs> = {
  builder: (y) =>
    y
      .options(modelDirOption)
      .option('calibration-samples', {
        type: 'number',
        default: 500,
        describe: 'Training images in the representative (calibration) set',
      })
      .option('per-channel', {
        type: 'boolean',
        default: false,
        describe: 'One weight scale per output channel (older Arduino TFLM releases lack per-channel fully-connected)',
      })
      .option('float', { type: 'boolean', default: false, describe: 'Also write DIR/model_float.tflite (float32)' })
      .option('data-dir', dataOptions['data-dir'])
      .example('$0 quantize --model models/default', 'int8, per-tensor weights, 500 calibration images')
      .example('$0 quantize --model models/default --per-channel --float', 'per-channel weights, plus a float32 .tflite') as never,
  handler: async (args) => {
    const r = await runQuantize(args);
    console.log(`wrote ${r.int8Path} (${r.int8Bytes} bytes)`);
    if (r.floatPath) console.log(`wrote ${r.floatPath} (${r.floatBytes} bytes)`);
  },
};
