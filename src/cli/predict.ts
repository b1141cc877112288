import { parseArgs } from 'node:util';
import { readNumericCsv } from '../../problems/csv.js';
import { writeFileAtomic } from '../core/atomic.js';
import { ConfigError } from '../core/errors.js';
import { predictColumns, readModel } from '../sr/model.js';

export const PREDICT_HELP = `gpmate predict: apply a saved model to a CSV file

  --model FILE      model.json written by 'gpmate run' (checked: format version and checksum)
  --data FILE.csv   numeric CSV with a header holding every input column the model names (any order)
  --out FILE        write the predictions there (CSV, one column "prediction"); default: standard output
`;

/** `gpmate predict --model FILE --data CSV [--out FILE]`. */
export async function predictCommand(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: { model: { type: 'string' }, data: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
    allowPositionals: false,
  });
  if (v.help) {
    process.stdout.write(PREDICT_HELP);
    return 0;
  }
  if (v.model === undefined) throw new ConfigError('option --model: required (a model.json file)');
  if (v.data === undefined) throw new ConfigError('option --data: required (a CSV file)');
  const model = readModel(v.model);
  const table = readNumericCsv(v.data);
  const pred = predictColumns(model, table.header, table.columns, table.rows, v.data);
  const text = 'prediction\n' + Array.from(pred, (x) => String(x)).join('\n') + '\n';
  if (v.out !== undefined) writeFileAtomic(v.out, text);
  else process.stdout.write(text);
  return 0;
}
