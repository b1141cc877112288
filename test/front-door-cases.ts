/**
 * Generated inputs for the front-door fuzz test (test/fuzz.test.ts): CSV files of random shapes with
 * random bad cells, encodings and line endings (with or without a description JSON), option vectors
 * drawn from the flag table of `gpmate run`, study files, and model files for `gpmate predict`. Every
 * case is a pure function of its seed. Valid sizes are kept small so that a case that runs finishes
 * in well under a second; invalid ones reach far beyond every bound.
 */
import { RUN_FLAGS } from '../src/cli/run.js';
import type { Flag } from '../src/cli/flags.js';
import { Rng } from '../src/core/rng.js';
import { modelJson } from '../src/sr/model.js';
import { parseInfix } from '../src/tree/parse.js';

/** One case: a command, its arguments (`@DIR@` is the case's fresh folder) and the files it finds there. */
export interface FrontDoorCase {
  readonly seed: number;
  readonly kind: string;
  readonly command: 'run' | 'predict' | 'study';
  readonly argv: readonly string[];
  readonly files: readonly { readonly name: string; readonly base64: string }[];
}

const file = (name: string, content: string | Buffer) => ({
  name,
  base64: (typeof content === 'string' ? Buffer.from(content) : content).toString('base64'),
});

/** Values beyond every bound, or of the wrong kind. */
const HOSTILE = [
  '0',
  '-1',
  '1e12',
  '1000000000000',
  '9007199254740993',
  '1e400',
  '-0',
  '1.5',
  'NaN',
  'Infinity',
  'x',
  '',
  ' ',
  '0x10',
  '2:1',
  '1:',
  '__proto__',
  'a'.repeat(300),
];

/** A well-formed number in a notation data files use. */
function number(rng: Rng): string {
  const v = rng.uniform(-100, 100);
  switch (rng.int(6)) {
    case 0:
      return String(Math.round(v));
    case 1:
      return v.toExponential(rng.int(8));
    case 2:
      return (v < 0 ? '-' : '+') + Math.abs(v).toFixed(3);
    case 3:
      return `.${rng.int(1000)}`;
    case 4:
      return `${rng.int(100)}.`;
    default:
      return String(v);
  }
}

/** A cell nobody should read as a number. */
function badCell(rng: Rng): string {
  return rng.pick([
    '',
    'NaN',
    'na',
    '?',
    'abc',
    '0x1F',
    '0b101',
    'Infinity',
    '-inf',
    '1e400',
    '1_000',
    '1,5',
    '"unclosed',
    '1 000',
    '--3',
    '1e',
    'é',
    '\t',
    '"2"',
  ]);
}

function csvText(rng: Rng, minColumns = 1): { text: string; columns: string[] } {
  const ncol = minColumns + rng.int(6 - minColumns);
  const columns = Array.from({ length: ncol }, (_, i) => (i === ncol - 1 ? 'y' : `x${i}`));
  const header = [...columns];
  const headerKind = rng.int(10);
  if (headerKind === 0) header.forEach((_, i) => (header[i] = number(rng))); // a forgotten header row
  if (headerKind === 1) header[rng.int(ncol)] = ''; // an empty name
  if (headerKind === 2 && ncol > 1) header[0] = header[1] as string; // a duplicate
  if (headerKind === 3) header[rng.int(ncol)] = `"${header[0]}"`; // quoted
  const rows = rng.int(4) === 0 ? rng.int(3) : 2 + rng.int(40);
  const badRate = rng.chance(0.5) ? 0 : rng.pick([0.01, 0.1, 0.5]);
  const constantTarget = rng.chance(0.1);
  const lines = [header.join(rng.chance(0.05) ? ';' : ',')];
  for (let r = 0; r < rows; r++) {
    let cells = columns.map((_, c) => (c === ncol - 1 && constantTarget ? '7' : rng.chance(badRate) ? badCell(rng) : number(rng)));
    if (rng.chance(0.02)) cells = cells.slice(0, -1); // a ragged row
    if (rng.chance(0.02)) cells.push(number(rng));
    if (rng.chance(0.01)) cells[cells.length - 1] = rng.pick(['1e200', '-1e300']); // a target whose errors overflow
    lines.push(cells.join(','));
  }
  const eol = rng.pick(['\n', '\r\n', '\r']);
  let text = lines.join(eol) + (rng.chance(0.8) ? eol : '') + (rng.chance(0.1) ? eol + eol : '');
  if (rng.chance(0.1)) text = `\uFEFF${text}`;
  return { text, columns };
}

/** A CSV file's bytes in a random encoding (mostly UTF-8), sometimes not text at all. */
function encode(rng: Rng, text: string): Buffer {
  switch (rng.int(20)) {
    case 0:
      return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    case 1:
      return Buffer.from(text.replace('x0', 'xé'), 'latin1');
    case 2:
      return Buffer.from(Array.from({ length: 64 + rng.int(200) }, () => rng.int(256)));
    case 3:
      return Buffer.from('{"not": "a csv", "rows": [1, 2, 3]}\n');
    default:
      return Buffer.from(text);
  }
}

function metaJson(rng: Rng, columns: string[], rows: number): string | undefined {
  const range = () => {
    const a = rng.int(rows + 2);
    return { start: a, end: a + rng.int(rows + 2) };
  };
  switch (rng.int(8)) {
    case 0:
      return rng.pick(['[1, 2]', '"text"', '{}', '{"name": "x"}', '{"metadata": 3}', '{', 'null']);
    case 1:
    case 2:
      return JSON.stringify({
        metadata: { target: rng.chance(0.8) ? rng.pick(columns) : 'nope', training_rows: range(), test_rows: range() },
      });
    case 3:
      return JSON.stringify({ target: rng.pick(columns), training_rows: { start: 0, end: rng.pick([1e30, -1, 2.5, 'x']) } });
    default:
      return undefined;
  }
}

/** Flags that name files or folders: their values stay inside the case's folder (hostile names too). */
const PATH_KEYS = ['data', 'meta', 'out', 'resume'];

/** A valid value for a flag (small sizes), or a hostile one. */
function flagValue(rng: Rng, f: Flag): string {
  if (rng.chance(0.25)) {
    const v = rng.pick(HOSTILE);
    return PATH_KEYS.includes(f.key) && v !== '' ? `@DIR@/${v}` : v;
  }
  const k = f.kind;
  if (typeof k === 'object') return rng.pick(k.choices);
  const small: Record<string, () => string> = {
    populationSize: () => String(2 + rng.int(20)),
    generations: () => String(rng.int(3)),
    tournamentSize: () => String(1 + rng.int(6)),
    poolSize: () => String(1 + rng.int(6)),
    elites: () => String(rng.int(4)),
    maxDepth: () => String(rng.int(12)),
    maxSize: () => String(1 + rng.int(80)),
    mutationDepth: () => String(rng.int(6)),
    mutation: () =>
      rng.pick(['subtree', 'point', 'subtree:1,changevar:1,constant:2', 'insert,remove', 'changefunc:0.5', 'grow', 'subtree:0', '']),
    initDepth: () => `${rng.int(3)}:${rng.int(7)}`,
    optimiseIterations: () => String(rng.int(8)),
    optimiseRows: () => String(1 + rng.int(50)),
    polishIterations: () => String(rng.pick([0, 5, 2000])),
    maxEvaluations: () => String(rng.int(200)),
    maxSeconds: () => String(rng.uniform(0, 2)),
    seed: () => String(rng.int(1000)),
    threads: () => '1',
    checkpointEvery: () => String(1 + rng.int(3)),
    functions: () => rng.pick(['add,sub', 'add,mul,sin', 'div,log,exp,sqrt', 'add,nope', '', 'add,add']),
    constantRange: () => `${rng.int(5) - 5}:${rng.int(5)}`,
    train: () => `${rng.int(10)}:${rng.int(40)}`,
    test: () => `${rng.int(10)}:${rng.int(40)}`,
    target: () => rng.pick(['y', 'x0', 'nope']),
    problem: () => rng.pick(['koza-1', 'nguyen-7', 'keijzer-6', 'pagie-1', 'nope']),
    resume: () => '@DIR@/none',
    meta: () => '@DIR@/missing.json',
    data: () => '@DIR@/missing.csv',
    out: () => rng.pick(['@DIR@/out', '@DIR@/out/deeper', '', '@DIR@/file-here', '/proc/gpmate-fuzz']),
  };
  const gen = small[f.key];
  if (gen) return gen();
  if (k === 'number') return String(rng.next());
  if (k === 'int') return String(rng.int(10));
  if (k === 'on-off') return rng.pick(['on', 'off']);
  return rng.pick(HOSTILE);
}

/** Flags of `gpmate run` a case may set (not the GPU's: a fuzz case does not open a device). */
const RUN_CASE_FLAGS = RUN_FLAGS.sections.flatMap((s) => s.flags).filter((f) => !/^gpu|^backend$/.test(f.flag));

function optionVector(rng: Rng, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const f = rng.pick(RUN_CASE_FLAGS);
    if (f.kind === 'switch') out.push(`--${f.flag}`);
    else if (rng.chance(0.5)) out.push(`--${f.flag}=${flagValue(rng, f)}`);
    else out.push(`--${f.flag}`, flagValue(rng, f));
  }
  if (rng.chance(0.03)) out.push(rng.pick(['--no-such-flag', '--population', 'stray', '-x']));
  return out;
}

/** Sizes that keep a valid case fast; they come first, so that a case's option vector (the last value of a flag counts) overrides them. */
const SMALL = ['--population', '12', '--generations', '1', '--threads', '1', '--quiet'];

function runCase(rng: Rng, seed: number): FrontDoorCase {
  const withData = rng.chance(0.6);
  const files: { name: string; base64: string }[] = [file('file-here', 'x')];
  const argv = ['--out', '@DIR@/out', ...SMALL];
  if (withData) {
    const { text, columns } = csvText(rng);
    files.push(file('d.csv', encode(rng, text)));
    const meta = metaJson(rng, columns, text.split(/\r\n|\n|\r/).length - 1);
    if (meta !== undefined) files.push(file(rng.chance(0.8) ? 'd.json' : 'm.json', meta));
    argv.unshift('--data', '@DIR@/d.csv');
    if (files.some((f) => f.name === 'm.json')) argv.push('--meta', '@DIR@/m.json');
  }
  // the option vector comes last, so its values (valid or hostile) are what the parser sees
  const options = optionVector(rng, rng.int(5));
  return { seed, kind: withData ? 'csv' : 'options', command: 'run', argv: [...argv, ...options], files };
}

function studyOptions(rng: Rng): Record<string, unknown> {
  const o: Record<string, unknown> = { populationSize: 2 + rng.int(15), generations: rng.int(3) };
  const pool: [string, () => unknown][] = [
    ['populationSize', () => rng.pick([1, 1e12, -3, 2.5, '10', null])],
    ['tournamentSize', () => rng.pick([1, 3, 50, 0])],
    ['maxSize', () => rng.pick([1, 3, 30, 70000, 0])],
    ['maxDepth', () => rng.pick([2, 8, 1001, -1])],
    ['initDepth', () => rng.pick([[1, 3], [3, 1], [0, 40], 5, 'x'])],
    ['mutationDepth', () => rng.pick([0, 2, 100])],
    ['functions', () => rng.pick([['add', 'mul'], ['nope'], [], 'add'])],
    ['objectives', () => rng.pick(['error', 'error-size', 'x'])],
    ['optimiseIterations', () => rng.pick([0, 3, 1e9])],
    ['linearScaling', () => rng.pick([true, false, 'yes'])],
    ['__proto__', () => ({ populationSize: 3 })],
    ['seed', () => 5],
    ['unknownOption', () => 1],
  ];
  for (let i = rng.int(3); i > 0; i--) {
    const [k, v] = rng.pick(pool);
    if (k === '__proto__') Object.defineProperty(o, k, { value: v(), enumerable: true, configurable: true, writable: true });
    else o[k] = v();
  }
  return o;
}

function studyCase(rng: Rng, seed: number): FrontDoorCase {
  const files: { name: string; base64: string }[] = [];
  const problems: unknown[] = [rng.pick(['koza-1', 'nguyen-1', 'pagie-1', 'nope'])];
  if (rng.chance(0.3)) {
    const { text } = csvText(rng);
    files.push(file('d.csv', encode(rng, text)));
    problems.push(rng.pick([{ name: 'csv', data: 'd.csv' }, { name: 'csv', data: 'missing.csv' }, { name: 'csv' }, { data: 'd.csv' }, 42]));
  }
  const study: Record<string, unknown> = {
    name: rng.pick(['fuzz', 'fuzz-2', 'bad name', '', 7]),
    problems: rng.chance(0.05) ? [] : problems,
    selection: rng.pick([['pimp'], ['tournament', 'pimp'], ['random-mate'], ['nope'], 'pimp', ['pimp', 'pimp']]),
    mutation: rng.pick([['subtree'], ['point'], ['subtree', 'point'], ['nope']]),
    mutationRate: rng.pick([[0.1], [0.5], [2], [-1], []]),
    settings: studyOptions(rng),
    seeds: rng.pick([1, 2, [3], [0], [1, 1], 1e9, -1, [1e20], 'x', 100001]),
  };
  if (rng.chance(0.3)) study['variants'] = rng.pick([{ a: studyOptions(rng) }, {}, { 'bad name': {} }, [], { a: 3 }]);
  if (rng.chance(0.2)) study['diversity'] = rng.pick([true, false, { sampleSize: 10 }, { sampleSize: 1e12 }, { nope: 1 }, 'x']);
  if (rng.chance(0.1)) study[rng.pick(['extra', '__proto__'])] = 1;
  const text = rng.chance(0.05) ? rng.pick(['{', '[]', 'null', '']) : JSON.stringify(study);
  files.push(file('s.json', text));
  return {
    seed,
    kind: 'study',
    command: 'study',
    argv: [
      'run',
      '@DIR@/s.json',
      '--db',
      rng.chance(0.9) ? '@DIR@/s.db' : rng.pick(['', '@DIR@', '/proc/gpmate-fuzz.db']),
      '--threads',
      '1',
      '--quiet',
    ],
    files,
  };
}

/** A model file: a valid one for a small formula, or one of the ways a model file goes wrong. */
function modelFile(rng: Rng): string {
  const valid = modelJson(parseInfix(rng.pick(['x0 + 1', 'x0 * x1', 'sin(x0)', 'log(x1) - 2']), ['x0', 'x1']), ['x0', 'x1'], 'fuzz');
  const body = JSON.parse(valid) as Record<string, unknown>;
  switch (rng.int(8)) {
    case 0:
      return JSON.stringify({ ...body, version: rng.pick(['2', 3, null]) });
    case 1:
      return JSON.stringify({ ...body, expression: 'tampered' });
    case 2:
      return rng.pick(['{', '[]', 'null', '{"format": "gpmate-model"}']);
    default:
      return valid;
  }
}

function predictCase(rng: Rng, seed: number): FrontDoorCase {
  const { text } = csvText(rng, rng.chance(0.8) ? 3 : 1); // the model reads x0 and x1
  const files = [file('m.json', modelFile(rng)), file('d.csv', encode(rng, text)), file('file-here', 'x')];
  const argv = ['--model', '@DIR@/m.json', '--data', '@DIR@/d.csv'];
  if (rng.chance(0.7)) argv.push('--out', rng.pick(['@DIR@/p.csv', '@DIR@', '@DIR@/no/such/p.csv', '', '@DIR@/file-here']));
  if (rng.chance(0.1)) argv.splice(rng.int(argv.length), 1);
  return { seed, kind: 'predict', command: 'predict', argv, files };
}

/** The case of a seed: about half runs (CSV data or option vectors), the rest study files and predictions. */
export function frontDoorCase(seed: number): FrontDoorCase {
  const rng = new Rng(`front-door:${seed}`);
  const r = rng.next();
  if (r < 0.55) return runCase(rng, seed);
  if (r < 0.8) return studyCase(rng, seed);
  return predictCase(rng, seed);
}
