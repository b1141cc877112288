import { readNumericCsv } from '../../problems/csv.js';
import { checkOutputFile, writeFileAtomic } from '../core/atomic.js';
import { ConfigError } from '../core/errors.js';
import { predictColumns, readModel } from '../sr/model.js';
import { flag, helpText, namingFlags, parseFlags, type CommandFlags } from './flags.js';

/** The flags of `gpmate predict`. */
export const PREDICT_FLAGS: CommandFlags = {
  head: 'gpmate predict: apply a saved model to a CSV file',
  sections: [
    {
      title: 'Options',
      flags: [
        flag('model FILE', 'model', 'string', "model.json written by 'gpmate run' (checked: format version and checksum)"),
        flag('data FILE.csv', 'data', 'string', 'numeric CSV with a header holding every input column the model names (any order)'),
        flag('out FILE', 'out', 'string', 'write the predictions there (CSV, one column "prediction")', 'standard output'),
      ],
    },
  ],
};

export const PREDICT_HELP = helpText(PREDICT_FLAGS);

/** `gpmate predict --model FILE --data CSV [--out FILE]`. */
export async function predictCommand(argv: string[]): Promise<number> {
  return namingFlags(PREDICT_FLAGS, () => predict(argv));
}

async function predict(argv: string[]): Promise<number> {
  const { values: v, help } = parseFlags(PREDICT_FLAGS, argv);
  if (help) {
    process.stdout.write(PREDICT_HELP);
    return 0;
  }
  const modelFile = v['model'] as string | undefined;
  const data = v['data'] as string | undefined;
  const out = v['out'] as string | undefined;
  if (modelFile === undefined) throw new ConfigError('option --model: required (a model.json file)');
  if (data === undefined) throw new ConfigError('option --data: required (a CSV file)');
  if (out !== undefined) checkOutputFile(out, 'out');
  const model = readModel(modelFile);
  const table = readNumericCsv(data);
  const pred = predictColumns(model, table.header, table.columns, table.rows, data);
  if (out !== undefined) writeFileAtomic(out, predictionCsv(pred));
  else for (const piece of predictionCsv(pred)) process.stdout.write(piece);
  return 0;
}

/**
 * The predictions as CSV text, in pieces of 65,536 rows: the text of a file near the CSV size limit
 * (tens of millions of rows) would pass the longest string V8 can make.
 */
export function* predictionCsv(pred: Float64Array): Generator<string> {
  yield 'prediction\n';
  for (let i = 0; i < pred.length; i += 65_536) yield Array.from(pred.subarray(i, i + 65_536), (x) => String(x)).join('\n') + '\n';
}
