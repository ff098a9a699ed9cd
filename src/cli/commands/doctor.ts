import type { CommandModule } from 'yargs';
import { runDoctor } from '../../doctor/doctor.ts';
import { DoctorFailedError } from '../../doctor/errors.ts';
import { failedNames, formatReport } from '../../doctor/format.ts';

export interface DoctorArgs {
  json: boolean;
}

export const doctorCommand: CommandModule<object, DoctorArgs> = {
  builder: (y) =>
    y
      .option('json', { type: 'boolean', default: false, describe: 'Print { ok, checks: [{ name, status, detail, fix? }] } instead of a table' })
      .example('$0 doctor', 'a table; exits non-zero when a check fails (warnings do not)')
      .example('$0 doctor --json', 'the same as JSON') as never,
  handler: async (args) => {
    const report = await runDoctor();
    console.log(args.json ? JSON.stringify(report) : formatReport(report));
    if (!report.ok) {
      const names = failedNames(report);
      throw new DoctorFailedError(`doctor: ${names.length} check${names.length === 1 ? '' : 's'} failed (${names.join(', ')}): run the fix line${names.length === 1 ? '' : 's'} shown ${args.json ? 'in the JSON' : 'above'}`);
    }
  },
};
