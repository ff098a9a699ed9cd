import type { CommandModule } from 'yargs';
import { modelDirOption } from '../options.ts';
import { runExport, type ExportArgs } from '../../export/export-folder.ts';

export const exportCommand: CommandModule<object, ExportArgs> = {
  builder: (y) =>
    y
      .options(modelDirOption)
      .option('symbol', { type: 'string', default: 'g_model', describe: 'Name of the C array' })
      .example('$0 export --model models/default', 'writes models/default/model_data.{h,cc}') as never,
  handler: async (args) => {
    const r = await runExport(args);
    console.log(`wrote ${r.header} and ${r.source} (${r.bytes}-byte array)`);
  },
};
