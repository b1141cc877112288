// Bad input never hangs, never exhausts memory, never writes half a result: one test per finding of the
// hostile-user review (output paths, sizes, size limits, seeds, metadata, row overlap, the judge's order,
// stale checkpoints, stale temporaries, model versions, __proto__, non-CSV data).
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { csvTask, readNumericCsv } from '../problems/index.js';
import { predictCommand, predictionCsv } from '../src/cli/predict.js';
import { runCommand, sha256Base64 } from '../src/cli/run.js';
import { writeFileAtomic } from '../src/core/atomic.js';
import { ConfigError, DataError } from '../src/core/errors.js';
import { MAX_POPULATION_SIZE } from '../src/core/options.js';
import { checkMemory } from '../src/sr/memory.js';
import { parseModel, sha256 } from '../src/sr/model.js';
import { resolveRegressionOptions } from '../src/sr/options.js';
import { runStudy } from '../src/study/runner.js';
import { checkProblems, parseStudy } from '../src/study/schema.js';
import { filtersNativeStderr, DawnWarningFilter } from '../src/cli/native-stderr.js';
import { CLI, SHARED } from './helpers.js';
import { hasSystem } from './system.js';
import { LLMBAR, TINY_MODEL } from './judge-helpers.js';
import { tinyStudy, writeStudy } from './study-helpers.js';

const made: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'gpmate-bad-'));
  made.push(d);
  return d;
};
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
/** The real command line, time-boxed: a hang fails the test instead of stalling the suite. */
const gpmate = (args: string[], timeout = 60_000) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout });
const TINY = ['--population', '10', '--generations', '1', '--quiet', '--threads', '1'];
const CONCRETE = join(SHARED, 'data/sr/Concrete.csv');

/** Expects one line on stderr naming `name`, exit code 2. */
function refused(r: ReturnType<typeof gpmate>, name: RegExp): void {
  expect(r.error, 'the command finished').toBeUndefined();
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr).toMatch(name);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
}

describe('output paths are checked before the run, and fail once', () => {
  it('an output folder that cannot be created fails at once with exit 2 (no endless mkdir under /proc)', () => {
    const r = gpmate(['run', ...TINY, '--out', '/proc/gpmate-x'], 20_000);
    refused(r, /^gpmate: option --out: cannot create files in \/proc/);
    expect(r.stdout).not.toMatch(/best:/); // refused before the run, not after
  });

  it('an existing file, an empty path or a folder under a file as --out: exit 2 before any work', async () => {
    const dir = tmp();
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    for (const [out, msg] of [
      [file, /option --out: .*file exists and is not a folder/],
      ['', /option --out: an empty path/],
      [join(file, 'sub'), /option --out: .*file is a file, not a folder/],
    ] as const) {
      // refused at once: a check after the run would report a raw EEXIST or ENOENT after 300 generations
      await expect(runCommand(['--population', '10', '--generations', '300', '--threads', '1', '--quiet', '--out', out])).rejects.toThrow(
        msg,
      );
    }
    expect(readdirSync(dir)).toEqual(['file']);
  });

  // root may write anywhere: as root, the command runs as the unprivileged user 65534 instead
  const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const canDropPrivileges = spawnSync(process.execPath, [CLI, 'help'], { encoding: 'utf8', ...asUser }).status === 0;
  if (!canDropPrivileges) console.warn('unwritable-folder test skipped: running as root and user 65534 cannot run the CLI here');
  it.skipIf(!canDropPrivileges)('a folder the user cannot write: exit 2 before any work', () => {
    const dir = tmp();
    chmodSync(dir, 0o755);
    const ro = join(dir, 'ro');
    mkdirSync(ro, { mode: 0o555 });
    chmodSync(ro, 0o555);
    const r = spawnSync(process.execPath, [CLI, 'run', ...TINY, '--out', join(ro, 'out')], { encoding: 'utf8', cwd: dir, ...asUser });
    expect(r.stderr).toMatch(/^gpmate: option --out: cannot create files in .* \(EACCES\)\n$/);
    expect(r.status).toBe(2);
    expect(readdirSync(ro)).toEqual([]);
  });

  it('predict --out: a folder, or a file in a missing folder, is refused before predicting', async () => {
    const dir = tmp();
    const model = join(dir, 'run');
    expect(gpmate(['run', ...TINY, '--out', model]).status).toBe(0);
    writeFileSync(join(dir, 'x.csv'), 'x\n0.5\n1.5\n');
    const args = ['--model', join(model, 'model.json'), '--data', join(dir, 'x.csv')];
    await expect(predictCommand([...args, '--out', dir])).rejects.toThrow(/^option --out: .* is a folder; name a file$/);
    await expect(predictCommand([...args, '--out', join(dir, 'no/such/p.csv')])).rejects.toThrow(
      /^option --out: folder .*no\/such does not exist$/,
    );
  });
});

describe('every size has a bound, the same in the library, study files and the command line', () => {
  it('a population of 10^12 is refused by the options model, gpmate run and a study file, before any work', async () => {
    expect(() => resolveRegressionOptions({ populationSize: 1e12 })).toThrow(
      new RegExp(`option populationSize: expected an integer in 2\\.\\.${MAX_POPULATION_SIZE}`),
    );
    refused(
      gpmate(['run', '--population', '1000000000000', '--out', join(tmp(), 'o')], 20_000),
      /option --population: expected an integer in 2\.\.1000000/,
    );
    const dir = tmp();
    const study = writeStudy(dir, tinyStudy({ settings: { populationSize: 1e12 } }));
    await expect(runStudy(study, { db: join(dir, 's.db'), threads: 1 })).rejects.toThrow(
      /field "settings": option populationSize: expected an integer/,
    );
    expect(existsSync(join(dir, 's.db'))).toBe(false);
  });

  it('a study of 10^9 seeds is refused by its file check', () => {
    expect(() => parseStudy(tinyStudy({ seeds: 1e9 }), 's.json')).toThrow(/field "seeds": expected a count in 1\.\.100000/);
    expect(() =>
      parseStudy(tinyStudy({ seeds: 100_000, selection: ['pimp', 'tournament', 'random-mate'], mutationRate: [0.1, 0.2, 0.3, 0.4] })),
    ).toThrow(/the grid has 1200000 runs .* at most 1000000/);
  });

  it('sizes that cannot fit the machine are refused up front with the figure (library, CLI, study)', async () => {
    const s = resolveRegressionOptions({ populationSize: 200_000, maxSize: 1000 });
    const machine = { total: 4 * 2 ** 30, heap: 4 * 2 ** 30 };
    expect(() => checkMemory(s, { rows: 100, inputs: 2 }, machine)).toThrow(
      /^option populationSize: the run needs up to 7\.\d GB in the worst case, mostly for 200000 individuals .* of up to 1000 nodes .*; this machine has 4\.0 GB of memory$/,
    );
    const bigMachine = { total: 64 * 2 ** 30, heap: 4 * 2 ** 30 };
    expect(() =>
      checkMemory(resolveRegressionOptions({ populationSize: 20_000, objectives: 'error-size' }), { rows: 100, inputs: 2 }, bigMachine),
    ).toThrow(/option populationSize: .*JavaScript heap .*NSGA-II domination lists of 40000 points/);
    expect(() =>
      checkMemory(resolveRegressionOptions({ populationSize: 5000, firstParent: 'lexicase' }), { rows: 200_000, inputs: 2 }, machine),
    ).toThrow(/option firstParent: .*per-row losses of 10000 individuals on 200000 rows/);
    expect(() => checkMemory(s, { rows: 100, inputs: 2, checkpoint: true }, { total: 2 ** 50, heap: 2 ** 50 })).toThrow(
      /a checkpoint of 200000 individuals .* beyond the/,
    );
    // a worst case beyond any machine: 10^6 individuals with two trees of 65,536 nodes (2.4 TB)
    refused(
      gpmate(['run', '--population', '1000000', '--max-size', '65536', '--max-depth', '20', '--out', join(tmp(), 'o')], 20_000),
      /^gpmate: option --population: the run needs up to .* GB/,
    );
    const dir = tmp();
    const study = writeStudy(dir, tinyStudy({ settings: { populationSize: 1_000_000, maxSize: 65_536 } }));
    await expect(runStudy(study, { db: join(dir, 's.db'), threads: 1 })).rejects.toThrow(
      /cell koza-1 pimp subtree 0\.2 default: option populationSize: the run needs/,
    );
    expect(existsSync(join(dir, 's.db'))).toBe(false);
  });

  it('--threads beyond the cores is capped with a note (not 1000 workers)', () => {
    const r = gpmate(['run', '--population', '10', '--generations', '1', '--quiet', '--threads', '1000', '--out', join(tmp(), 'o')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^gpmate: note: --threads 1000 is more than the \d+ cores; using \d+\n$/);
  });

  it('--mutation-depth beyond --max-depth is refused like --init-depth (it took 3.6 GB)', () => {
    refused(gpmate(['run', '--mutation-depth', '100', '--out', join(tmp(), 'o')]), /option --mutation-depth: 100 exceeds maxDepth 17/);
  });
});

describe('seeds', () => {
  it('are exact integers in 0..2^53-1 in the library, the command line and study files', () => {
    expect(() => resolveRegressionOptions({ seed: 1e20 })).toThrow(/option seed: expected an integer in 0\.\.9007199254740991/);
    expect(() => resolveRegressionOptions({ seed: -1 })).toThrow(/option seed/);
    expect(resolveRegressionOptions({ seed: 2 ** 53 - 1 }).seed).toBe(2 ** 53 - 1);
    refused(
      gpmate(['run', '--seed', '100000000000000000001', '--out', join(tmp(), 'o')]),
      /option --seed: expected an integer of at most 9007199254740991/,
    );
    expect(() => parseStudy(tinyStudy({ seeds: [1, 1e20] }))).toThrow(/field "seeds\[1\]": expected an integer in 0\.\.9007199254740991/);
  });
});

describe('a metadata JSON is used or refused, never ignored', () => {
  const data = 'a,b,y\n1,2,3\n2,3,5\n3,5,8\n4,1,5\n';
  it('beside the CSV: not an object, or without "metadata" or any of its keys, is an error', () => {
    for (const [json, msg] of [
      ['[1, 2]', /d\.json: expected a JSON object \{"metadata"/],
      ['"text"', /d\.json: expected a JSON object/],
      ['{"name": "d"}', /d\.json: describes no target or rows/],
      ['{"metadata": 3}', /d\.json: "metadata" must be an object/],
      ['{"metadata": {"training_rows": {"start": 0, "end": 1e30}}}', /training_rows: expected \{"start": integer, "end": integer\}/],
    ] as const) {
      const dir = tmp();
      writeFileSync(join(dir, 'd.csv'), data);
      writeFileSync(join(dir, 'd.json'), json);
      expect(() => csvTask(join(dir, 'd.csv')), json).toThrow(msg);
    }
  });

  it('beside the CSV: a target or rows that do not fit the file are named in the JSON (the CSV was named)', () => {
    for (const [json, msg] of [
      ['{"target": "q"}', /d\.json: target: .*d\.csv has no column named "q"/],
      ['{"training_rows": {"start": 3, "end": 1}}', /d\.json: training_rows 3:1 are empty/],
      ['{"training_rows": {"start": -2, "end": 3}}', /d\.json: training_rows -2:3 start before the first data row \(0\)/],
      ['{"test_rows": {"start": 0, "end": 9}}', /d\.json: test_rows 0:9 exceed the 4 data rows of .*d\.csv/],
    ] as const) {
      const dir = tmp();
      writeFileSync(join(dir, 'd.csv'), data);
      writeFileSync(join(dir, 'd.json'), json);
      expect(() => csvTask(join(dir, 'd.csv')), json).toThrow(msg);
      expect(() => csvTask(join(dir, 'd.csv'), { target: 'y', train: { start: -1, end: 2 } }), json).toThrow(
        /d\.csv: training rows -1:2 start before the first data row/,
      );
    }
  });

  it('given with --meta: an unusable one is an error naming it', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'd.csv'), data);
    writeFileSync(join(dir, 'm.json'), '{"other": true}');
    await expect(
      runCommand(['--data', join(dir, 'd.csv'), '--meta', join(dir, 'm.json'), ...TINY, '--out', join(dir, 'o')]),
    ).rejects.toThrow(/m\.json: describes no target or rows/);
    expect(existsSync(join(dir, 'o'))).toBe(false);
  });
});

describe('train and test rows that overlap', () => {
  it('are warned about and recorded (target and both ranges) in summary.json and model.json', () => {
    const dir = tmp();
    const out = join(dir, 'o');
    const r = gpmate(['run', '--data', CONCRETE, '--train', '0:20', '--test', '10:30', ...TINY, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe(
      'gpmate: warning: test rows 10:30 overlap training rows 0:20 in 10 rows; their test errors are not out-of-sample\n',
    );
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.data).toEqual({ target: 'Y', train: [0, 20], test: [10, 30], overlap: 10 });
    const model = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
    expect(model.target).toBe('Y');
    expect(model.rows).toEqual({ train: [0, 20], test: [10, 30] });
    // --test alone while training takes every row (a file without a JSON beside it)
    writeFileSync(join(dir, 'p.csv'), readFileSync(join(SHARED, 'data/sr/Pagie-1.csv')));
    const all = gpmate(['run', '--data', join(dir, 'p.csv'), '--test', '0:50', ...TINY, '--out', join(dir, 'p')]);
    expect(all.stderr).toMatch(/^gpmate: warning: test rows 0:50 overlap training rows 0:1676 in 50 rows/);
  });
});

describe('judge evolve', () => {
  it('validates the back end and the data before creating any file (no cache left behind)', () => {
    const dir = tmp();
    const out = join(dir, 'out');
    const base = ['judge', 'evolve', '--data', LLMBAR, '--out', out];
    refused(gpmate([...base, '--backend', 'llama', '--model', join(dir, 'missing.gguf')]), /option --model: GGUF file .* not found/);
    refused(gpmate([...base, '--backend', 'http', '--base-url', 'not a url', '--model', 'm']), /option --base-url: not a URL/);
    refused(
      gpmate(['judge', 'evolve', '--data', join(dir, 'none.json'), '--backend', 'llama', '--model', TINY_MODEL, '--out', out]),
      /none\.json/,
    );
    refused(gpmate([...base, '--backend', 'llama', '--model', TINY_MODEL, '--budget=-1']), /option --budget: expected an integer >= 0/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('checkpoints of another run', () => {
  it('a fresh run into a folder with an older checkpoint removes it, so --resume cannot replace its results', async () => {
    const dir = tmp();
    const out = join(dir, 'o');
    expect(
      gpmate([
        'run',
        '--problem',
        'keijzer-6',
        '--population',
        '20',
        '--generations',
        '4',
        '--checkpoint-every',
        '2',
        '--quiet',
        '--threads',
        '1',
        '--out',
        out,
      ]).status,
    ).toBe(0);
    const older = readFileSync(join(out, 'summary.json'), 'utf8');
    const fresh = gpmate(['run', '--problem', 'koza-1', ...TINY, '--out', out]);
    expect(fresh.status, fresh.stderr).toBe(0);
    expect(fresh.stdout).toMatch(/removed .*checkpoint\.json, the checkpoint of another run \(gpmate run --problem keijzer-6 /);
    expect(existsSync(join(out, 'checkpoint.json'))).toBe(false);
    const summary = readFileSync(join(out, 'summary.json'), 'utf8');
    expect(summary).not.toBe(older);
    refused(gpmate(['run', '--resume', out]), /option --resume: no checkpoint\.json in/);
    expect(readFileSync(join(out, 'summary.json'), 'utf8')).toBe(summary);
  });

  it('--resume says whose checkpoint it continues', () => {
    const out = join(tmp(), 'o');
    const args = [
      'run',
      '--problem',
      'keijzer-6',
      '--population',
      '20',
      '--generations',
      '4',
      '--checkpoint-every',
      '2',
      '--quiet',
      '--threads',
      '1',
    ];
    expect(gpmate([...args, '--out', out]).status).toBe(0);
    const r = gpmate(['run', '--resume', out, '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^resuming .*checkpoint\.json after generation 4: gpmate run --problem keijzer-6 --population 20 /);
  });

  it('temporaries left by a process killed mid-write are removed on the next start', () => {
    const out = join(tmp(), 'o');
    mkdirSync(out);
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number; // a process that has exited
    const stale = join(out, `.checkpoint.json.${dead}.tmp`);
    writeFileSync(stale, '{"checksum":"trunc');
    const r = gpmate(['run', ...TINY, '--checkpoint-every', '1', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(stale)).toBe(false);
    expect(readdirSync(out).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('smaller findings', () => {
  it('--target, --train, --test or --meta with a benchmark: exit 2, nothing written (they were ignored)', () => {
    const out = join(tmp(), 'o');
    refused(
      gpmate(['run', ...TINY, '--problem', 'koza-1', '--target', 'x', '--out', out]),
      /^gpmate: option --target: only with a data file/,
    );
    refused(gpmate(['run', ...TINY, '--train', '0:5', '--out', out]), /^gpmate: option --train: only with a data file/);
    expect(existsSync(out)).toBe(false);
    const study = parseStudy(tinyStudy({ problems: [{ name: 'k', problem: 'koza-1', target: 'y' }] }), 's.json');
    expect(() => checkProblems(study, 's.json')).toThrow(/study file s\.json: field "problems\[0\]": option target: only with a data file/);
  });

  it('a model file whose version is the string "2" says so', () => {
    const body = { format: 'gpmate-model', version: '2', gpmate: '0.1.0', inputs: ['x'] };
    expect(() => parseModel(JSON.stringify(body), 'm.json')).toThrow(/^m\.json: "version" must be a number \(1 to 3\), got "2"$/);
  });

  it('a study field named __proto__ is named as unknown, at every level', () => {
    const cases: [string, RegExp][] = [
      ['{"name":"a","problems":["koza-1"],"seeds":1,"__proto__":{"x":1}}', /field "__proto__": unknown field/],
      ['{"name":"a","problems":["koza-1"],"seeds":1,"settings":{"__proto__":{"x":1}}}', /field "settings\.__proto__": unknown option/],
      ['{"name":"a","problems":["koza-1"],"seeds":1,"variants":{"v":{"__proto__":{}}}}', /field "variants\.v\.__proto__": unknown option/],
      [
        '{"name":"a","problems":[{"name":"p","problem":"koza-1","__proto__":1}],"seeds":1}',
        /field "problems\[0\]\.__proto__": unknown field/,
      ],
    ];
    for (const [json, msg] of cases) expect(() => parseStudy(JSON.parse(json), 's.json'), json).toThrow(msg);
  });

  it('a data file that is not a CSV is named with a line number; its content is not echoed', () => {
    const dir = tmp();
    const secret = 'do-not-echo-this-private-content';
    const files: [string, string | Buffer, RegExp][] = [
      ['notes.json', `{"${secret}": [1, 2, 3],\n "more": "${secret}"}\n`, /notes\.json: line 1/],
      [
        'page.html',
        `<html><body>${secret}</body></html>\n<p>${secret}</p>\n`,
        /page\.html: line 2, column 1: a text of 39 characters is not a number/,
      ],
      [
        'image.png',
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, ...Buffer.from(secret)]),
        /image\.png: line 3: a NUL byte: not a text \(CSV\) file/,
      ],
      ['words.csv', `title,${secret}\nhello,${secret}\n`, /words\.csv: line 2, column "title": "hello" is not a number/],
    ];
    for (const [name, content, msg] of files) {
      writeFileSync(join(dir, name), content);
      let err: unknown;
      try {
        csvTask(join(dir, name));
      } catch (e) {
        err = e;
      }
      expect(err, name).toBeInstanceOf(DataError);
      expect((err as Error).message, name).toMatch(msg);
      expect((err as Error).message).not.toContain(secret);
    }
  });

  it('errors about an option are ConfigErrors (exit 2), whatever layer finds them', () => {
    expect(() => resolveRegressionOptions({ optimiseIterations: 1e9 })).toThrow(ConfigError);
    expect(() => resolveRegressionOptions({ initDepth: 5 as never })).toThrow(
      /option initDepth: expected a pair \[a, b\] of integers, got 5/,
    );
    expect(() => resolveRegressionOptions({ constantRange: 'x' as never })).toThrow(/option constantRange: expected a pair/);
  });

  it("Dawn's warning blocks are kept off stderr (a filter on whole lines, chunks split anywhere)", () => {
    const dawn =
      "Warning: Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file: No such file or directory\n" +
      '    at operator() (/home/runner/work/node-webgpu/node-webgpu/third_party/dawn/src/dawn/native/vulkan/BackendVk.cpp:368)\n\n' +
      'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 90 to 16 to fit dynamic offset allocation limit.\n' +
      'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 80 to 16 to fit dynamic offset allocation limit.\n' +
      'gpmate: gpu back end: no WebGPU adapter found\n\nnot Dawn: kept\n';
    for (const cut of [1, 7, 50, 1000]) {
      const f = new DawnWarningFilter();
      let out = '';
      for (let i = 0; i < dawn.length; i += cut) out += f.push(dawn.slice(i, i + cut));
      expect(out + f.end()).toBe('gpmate: gpu back end: no WebGPU adapter found\n\nnot Dawn: kept\n');
    }
    expect(filtersNativeStderr(['run', '--backend', 'gpu'])).toBe(true);
    expect(filtersNativeStderr(['run', '--backend=gpu', '--verbose'])).toBe(false);
    expect(filtersNativeStderr(['run', '--backend', 'cpu'])).toBe(false);
  });

  it.skipIf(!hasSystem('mesa', 'the GPU error-output test'))(
    'a GPU error is one line on stderr, without Dawn warnings, unless --verbose',
    () => {
      const r = gpmate(['run', '--backend', 'gpu', '--gpu-adapter', 'no-such-gpu-model', '--out', join(tmp(), 'o')]);
      refused(r, /^gpmate: gpu back end: no WebGPU adapter found/);
      const verbose = gpmate(['run', '--backend', 'gpu', '--gpu-adapter', 'no-such-gpu-model', '--verbose', '--out', join(tmp(), 'o')]);
      expect(verbose.status).toBe(2);
      expect(verbose.stderr).toMatch(/gpmate: gpu back end: no WebGPU adapter found/);
    },
  );
});

describe('data files near the size limit are read in linear time and memory', () => {
  it('a header of 300,000 columns is checked for duplicate names in linear time (a quadratic search took hours)', () => {
    const dir = tmp();
    const names = Array.from({ length: 300_000 }, (_, i) => `c${i}`);
    const row = names.map((_, i) => String(i % 7)).join(',');
    writeFileSync(join(dir, 'wide.csv'), `${names.join(',')}\n${row}\n${row}\n`);
    expect(readNumericCsv(join(dir, 'wide.csv')).header).toHaveLength(300_000);
    writeFileSync(join(dir, 'dup.csv'), `${names.join(',')},c299998\n${row},1\n`);
    expect(() => readNumericCsv(join(dir, 'dup.csv'))).toThrow(/dup\.csv: line 1: column "c299998" appears twice/);
  });

  it('a cell of 20 million characters is read in a heap of 128 MB (built a character at a time, it took 1.3 GB)', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'long.csv'), `x,y\n1,"${'2'.repeat(20_000_000)}"\n2,3\n`);
    const r = spawnSync(
      process.execPath,
      ['--max-old-space-size=128', CLI, 'run', '--data', join(dir, 'long.csv'), ...TINY, '--out', join(dir, 'o')],
      { encoding: 'utf8', timeout: 60_000 },
    );
    refused(r, /^gpmate: .*long\.csv: line 2, column "y": a text of 20000000 characters is beyond the range of double-precision numbers/);
    expect(existsSync(join(dir, 'o'))).toBe(false);
  });

  it("a checkpoint's fingerprint hashes the data's base64 text in pieces (whole, it passed V8's longest string from 400 MB of data)", () => {
    const whole = (arrays: Float64Array[]) =>
      sha256(Buffer.concat(arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))).toString('base64'));
    // pieces are 3 MiB (393,216 doubles): columns that end inside a piece, on its edge and past it, and empty ones
    for (const lengths of [[0], [1], [1, 1], [2, 5, 7], [393_216, 1], [393_217, 393_215, 3], [1_000_000, 7], [0, 0, 3]]) {
      const arrays = lengths.map((n) => Float64Array.from({ length: n }, (_, i) => Math.sin(7 * i + n)));
      expect(sha256Base64(arrays), String(lengths)).toBe(whole(arrays));
    }
  });

  it('predict writes its CSV text in pieces (whole, 67 million predictions failed: "Invalid string length", exit 1)', () => {
    const pred = Float64Array.from({ length: 150_000 }, (_, i) => Math.sin(i) * 10 ** (i % 30));
    const text = 'prediction\n' + Array.from(pred, (x) => String(x)).join('\n') + '\n';
    expect([...predictionCsv(pred)].length).toBe(4); // the header, then pieces of 65,536 rows
    expect([...predictionCsv(pred)].join('')).toBe(text);
    const file = join(tmp(), 'p.csv');
    writeFileAtomic(file, predictionCsv(pred));
    expect(readFileSync(file, 'utf8')).toBe(text);
  });
});
