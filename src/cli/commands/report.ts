import type { CommandModule } from 'yargs';
import { modelDirOption } from '../options.ts';
import { writeModelReport } from '../../report/model-report.ts';

export interface ReportArgs {
  model: string;
  json: boolean;
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  builder: (y) =>
    y
      .options(modelDirOption)
      .option('json', { type: 'boolean', default: false, describe: 'Print the summary row as one JSON object' })
      .example('$0 report --model models/default', 'after tinyml deploy: writes models/default/report.html') as never,
  handler: async (args) => {
    const r = await writeModelReport(args.model);
    if (args.json) {
      console.log(JSON.stringify({ report: r.report, ...r.row, found: r.found }));
      return;
    }
    const missing = Object.entries(r.found).filter(([, ok]) => !ok).map(([k]) => `${k}.json`);
    console.log(`wrote ${r.report}${missing.length ? ` (no ${missing.join(', ')} in the folder: those sections are empty)` : ''}`);
  },
};
