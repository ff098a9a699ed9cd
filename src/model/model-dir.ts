/** Where each artifact lives inside a model folder; one place so commands agree. */
import { join } from 'node:path';

export interface ModelPaths {
  readonly dir: string;
  readonly int8Tflite: string;
  readonly floatTflite: string;
  readonly cHeader: string;
  readonly cSource: string;
  readonly metrics: string;
  readonly quantization: string;
  readonly evaluation: string;
  readonly validation: string;
  readonly report: string;
}

export function modelPaths(dir: string): ModelPaths {
  return {
    dir,
    int8Tflite: join(dir, 'model_int8.tflite'),
    floatTflite: join(dir, 'model_float.tflite'),
    cHeader: join(dir, 'model_data.h'),
    cSource: join(dir, 'model_data.cc'),
    metrics: join(dir, 'metrics.json'),
    quantization: join(dir, 'quantization.json'),
    evaluation: join(dir, 'evaluation.json'),
    validation: join(dir, 'validation.json'),
    report: join(dir, 'report.html'),
  };
}
