/** `tinyml export`'s flow on a model folder: model_data.h/.cc from the int8 .tflite. */
import { UsageError } from '../errors.ts';
import { renderCArray } from './c-array.ts';
import { modelPaths } from '../model/model-dir.ts';
import { writeFileAtomic } from '../util/atomic-write.ts';
import { readInt8Model } from '../model/int8-file.ts';

export interface ExportArgs {
  model: string;
  symbol: string;
}

/** Reads the int8 .tflite (which must be valid) and writes model_data.h/.cc next to it. */
export async function runExport(args: ExportArgs): Promise<{ header: string; source: string; bytes: number }> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(args.symbol)) {
    throw new UsageError(`--symbol '${args.symbol}' is not a C identifier; try --symbol g_model`);
  }
  const paths = modelPaths(args.model);
  const { model, bytes } = await readInt8Model(args.model);
  const { header, source } = renderCArray(bytes, model, { symbol: args.symbol });
  await writeFileAtomic(paths.cHeader, header);
  await writeFileAtomic(paths.cSource, source);
  return { header: paths.cHeader, source: paths.cSource, bytes: bytes.length };
}
