import type { CommandModule } from 'yargs';
import { farmStatus, formatFarmStatus } from '../../farm/status.ts';

interface FarmStatusArgs {
  redis: string;
  json: boolean;
}

const statusCommand: CommandModule<object, FarmStatusArgs> = {
  command: 'status',
  describe: 'Workers alive, queue depths and throughput of a board farm',
  builder: (y) =>
    y
      .option('redis', { type: 'string', demandOption: true, describe: "The farm's Redis: redis://[:password@]host:port[/db] or rediss:// (TLS)" })
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object' }) as never,
  handler: async (args) => {
    const s = await farmStatus(args);
    console.log(args.json ? JSON.stringify(s) : formatFarmStatus(s));
  },
};

export const farmCommand: CommandModule = {
  builder: (y) => y.command(statusCommand).demandCommand(1, 'name a farm command: status') as never,
  handler: () => undefined,
};
