import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, DataError } from '../src/core/errors.js';
import { canonicalJson, configHash, expandGrid, expandRuns, studyHash } from '../src/study/grid.js';
import { parseStudy, readStudyFile } from '../src/study/schema.js';
import { tempDir, tinyStudy, writeStudy } from './study-helpers.js';

function errorOf(json: unknown): string {
  try {
    parseStudy(json, 's.json');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    const msg = (e as Error).message;
    expect(msg).not.toContain('\n');
    return msg;
  }
  throw new Error('expected a ConfigError');
}

describe('study file validation', () => {
  it('accepts the shipped studies and fills defaults', () => {
    const paper = readStudyFile('studies/paper.json');
    expect(paper.seeds).toHaveLength(30);
    expect(expandGrid(paper)).toHaveLength(3 * 3 * 2 * 2);
    expect(expandRuns(paper)).toHaveLength(3 * 3 * 2 * 2 * 30);
    const smoke = readStudyFile('studies/smoke.json');
    expect(smoke.diversity).toBe(true);
    const s = parseStudy({ name: 'x', problems: ['Koza-1'], seeds: [3, 5] });
    expect(s.selection).toEqual(['tournament', 'random-mate', 'pimp']);
    expect(s.mutation).toEqual(['subtree']);
    expect(s.problems[0]).toEqual({ name: 'koza-1', problem: 'koza-1' });
    expect(s.variants).toEqual({ default: {} });
    expect(s.successThreshold).toBe(0.01);
  });

  it('names the file and the field in every error', () => {
    expect(errorOf([])).toMatch(/^study file s\.json: expected a JSON object/);
    expect(errorOf(tinyStudy({ name: 'a b' }))).toContain('field "name"');
    expect(errorOf(tinyStudy({ colour: 1 }))).toContain('field "colour": unknown field');
    expect(errorOf(tinyStudy({ problems: [] }))).toContain('field "problems": expected a non-empty list');
    expect(errorOf(tinyStudy({ problems: [{ name: 'c' }] }))).toContain('field "problems[0]": give exactly one of');
    expect(errorOf(tinyStudy({ problems: [{ problem: 'koza-1', frobnicate: 1 }] }))).toContain(
      'field "problems[0].frobnicate": unknown field',
    );
    expect(errorOf(tinyStudy({ selection: ['pimp', 'roulette'] }))).toContain(
      'field "selection[1]": expected one of tournament, random-mate, pimp, got "roulette"',
    );
    expect(errorOf(tinyStudy({ mutation: ['hoist'] }))).toContain('field "mutation[0]"');
    expect(errorOf(tinyStudy({ mutationRate: [0.1, 1.5] }))).toContain('field "mutationRate[1]": expected a probability');
    expect(errorOf(tinyStudy({ mutationRate: [0.1, 0.1] }))).toContain('field "mutationRate[1]": 0.1 is listed twice');
    expect(errorOf(tinyStudy({ settings: { populationSize: 10, warp: 9 } }))).toContain('field "settings.warp": unknown option');
    expect(errorOf(tinyStudy({ settings: { selection: 'pimp' } }))).toContain(
      'field "settings.selection": "selection" is set at the top level',
    );
    expect(errorOf(tinyStudy({ settings: { populationSize: 'big' } }))).toContain(
      'field "settings.populationSize": expected an integer, got "big"',
    );
    expect(errorOf(tinyStudy({ settings: { populationSize: 1 } }))).toContain('field "settings": option populationSize');
    expect(errorOf(tinyStudy({ variants: { k99: { tournamentSize: 99 } } }))).toContain('field "variants.k99": option tournamentSize');
    expect(errorOf(tinyStudy({ settings: { functions: ['add', 'gamma'] } }))).toContain('option functions: unknown function "gamma"');
    expect(errorOf(tinyStudy({ settings: { distance: 'psychic' } }))).toContain('option distance');
    // Every option is checked by the options model, these two included (they used to fail every run instead).
    expect(errorOf(tinyStudy({ settings: { selectModel: 'median' } }))).toContain(
      'field "settings": option selectModel: expected one of best, score, validation, aic, bic, mdl, got median',
    );
    expect(errorOf(tinyStudy({ variants: { o: { optimiser: 'adam' } } }))).toContain(
      'field "variants.o": option optimiser: expected one of lm, gradient, got adam',
    );
    expect(errorOf(tinyStudy({ successThreshold: -1 }))).toContain('field "successThreshold"');
    expect(errorOf(tinyStudy({ diversity: 'yes' }))).toContain('field "diversity": option diversity: expected true, false or an object');
    expect(errorOf(tinyStudy({ diversity: { sampleSize: 10, colour: 1 } }))).toContain(
      'field "diversity": option diversity.colour: unknown',
    );
    expect(parseStudy(tinyStudy({ diversity: { sampleSize: 10 } })).diversity).toEqual({ sampleSize: 10 });
  });

  it("requires seeds in the options model's range (0..2^53-1) and a count of at most 100000", () => {
    expect(errorOf(tinyStudy({ seeds: undefined }))).toContain('field "seeds": required');
    expect(errorOf(tinyStudy({ seeds: 0 }))).toContain('field "seeds": expected a count in 1..100000');
    expect(errorOf(tinyStudy({ seeds: 2.5 }))).toContain('field "seeds"');
    expect(errorOf(tinyStudy({ seeds: [1, -2] }))).toContain('field "seeds[1]": expected an integer in 0..9007199254740991, got -2');
    expect(parseStudy(tinyStudy({ seeds: [1, 0] })).seeds).toEqual([1, 0]);
    expect(errorOf(tinyStudy({ seeds: [1, 1e20] }))).toContain(
      'field "seeds[1]": expected an integer in 0..9007199254740991, got 100000000000000000000',
    );
    expect(errorOf(tinyStudy({ seeds: [1, '2'] }))).toContain('field "seeds[1]"');
    expect(errorOf(tinyStudy({ seeds: [4, 4] }))).toContain('field "seeds[1]": 4 is listed twice');
    expect(errorOf(tinyStudy({ seeds: [] }))).toContain('field "seeds": expected a non-empty list');
  });

  it('reports a missing or malformed file in one line', () => {
    const dir = tempDir();
    expect(() => readStudyFile(`${dir}/nope.json`)).toThrow(new DataError(`study file ${dir}/nope.json: not found`));
    const bad = writeStudy(dir, {}, 'bad.json');
    writeFileSync(bad, '{"name": "x", "problems": ['); // truncated, as an editor crash would leave it
    expect(() => readStudyFile(bad)).toThrow(/^study file .*bad\.json: not valid JSON \(/);
  });
});

describe('grid expansion and configuration hashes', () => {
  it('canonical JSON ignores key order and undefined fields', () => {
    expect(canonicalJson({ b: 1, a: [1, { d: 2, c: undefined, b: 'x' }] })).toBe('{"a":[1,{"b":"x","d":2}],"b":1}');
    expect(configHash({ x: 1, y: 2 })).toBe(configHash({ y: 2, x: 1 }));
    expect(configHash({ x: 1, y: 2 })).not.toBe(configHash({ x: 1, y: 3 }));
  });

  it('expands cells in study order with a stable hash per cell', () => {
    const spec = parseStudy(
      tinyStudy({ mutation: ['subtree', 'point'], mutationRate: [0.1, 0.3], variants: { a: {}, b: { tournamentSize: 3 } } }),
    );
    const cells = expandGrid(spec);
    expect(cells).toHaveLength(3 * 2 * 2 * 2);
    expect(new Set(cells.map((c) => c.hash)).size).toBe(cells.length);
    expect(cells.slice(0, 3).map((c) => [c.selection, c.mutation, c.mutationRate, c.variant])).toEqual([
      ['pimp', 'subtree', 0.1, 'a'],
      ['pimp', 'subtree', 0.1, 'b'],
      ['pimp', 'subtree', 0.3, 'a'],
    ]);
    expect(cells[1]?.options).toMatchObject({
      tournamentSize: 3,
      selection: 'pimp',
      mutation: 'subtree',
      mutationRate: 0.1,
      populationSize: 30,
    });
    // The hash is pinned: it is the identity of results stored in databases, so it must not drift between versions.
    expect(cells[0]?.hash).toBe('5ea79555e74f9558');
    // Renaming the study or a variant, or adding seeds, keeps the cell hashes; changing a setting changes them.
    const renamed = expandGrid(
      parseStudy(
        tinyStudy({
          name: 'other',
          seeds: 9,
          mutation: ['subtree', 'point'],
          mutationRate: [0.1, 0.3],
          variants: { z: {}, b: { tournamentSize: 3 } },
        }),
      ),
    );
    expect(renamed.map((c) => c.hash)).toEqual(cells.map((c) => c.hash));
    const changed = expandGrid(
      parseStudy(tinyStudy({ settings: { populationSize: 31, generations: 5, maxDepth: 6, maxSize: 48, initDepth: [1, 3] } })),
    );
    expect(changed[0]?.hash).not.toBe(expandGrid(parseStudy(tinyStudy()))[0]?.hash);
  });

  it('a variant may list the selection modes it runs under; the other cells keep their hashes', () => {
    const base = parseStudy(tinyStudy({ variants: { default: {} } }));
    const spec = parseStudy(
      tinyStudy({ variants: { default: {}, far: { mateRule: 'dissimilar', poolDraw: 'tournament', selection: ['pimp'] } } }),
    );
    expect(readStudyFile('studies/pimp-sensitivity.json').variants['semantic']?.selection).toEqual(['pimp']);
    const cells = expandGrid(spec);
    expect(cells.map((c) => [c.selection, c.variant])).toEqual([
      ['pimp', 'default'],
      ['pimp', 'far'],
      ['tournament', 'default'],
      ['random-mate', 'default'],
    ]);
    expect(cells[1]?.options).toMatchObject({ mateRule: 'dissimilar', poolDraw: 'tournament', selection: 'pimp' });
    expect(cells[1]?.options).not.toHaveProperty('selection', ['pimp']);
    expect(cells.filter((c) => c.variant === 'default').map((c) => c.hash)).toEqual(expandGrid(base).map((c) => c.hash));
    expect(expandRuns(spec)).toHaveLength(4 * 2);
    // the spec round-trips through its canonical JSON (the database keeps it so)
    expect(parseStudy(JSON.parse(canonicalJson(spec)))).toEqual(spec);
    expect(errorOf(tinyStudy({ selection: ['pimp', 'tournament'], variants: { v: { selection: ['random-mate'] } } }))).toContain(
      'field "variants.v.selection[0]": "random-mate" is not one of the study\'s selection modes',
    );
    expect(errorOf(tinyStudy({ variants: { v: { selection: [] } } }))).toContain('field "variants.v.selection": expected a non-empty list');
    expect(errorOf(tinyStudy({ variants: { v: { selection: ['pimp'] } } }))).toContain(
      'field "selection[1]": "tournament" is run by no variant',
    );
    expect(errorOf(tinyStudy({ variants: { v: { selection: ['pimp', 'pimp'] } } }))).toContain('"pimp" is listed twice');
    // options are checked only under the modes the variant runs: dissimilar mating is pimp's alone
    expect(errorOf(tinyStudy({ variants: { v: { mateRule: 'dissimilar' } } }))).toContain('field "variants.v": option mateRule');
  });

  it('the study hash changes with any change to the study', () => {
    const a = parseStudy(tinyStudy());
    expect(studyHash(a)).toBe(studyHash(parseStudy(tinyStudy())));
    expect(studyHash(parseStudy(tinyStudy({ seeds: 3 })))).not.toBe(studyHash(a));
    expect(studyHash(parseStudy(tinyStudy({ successThreshold: 0.02 })))).not.toBe(studyHash(a));
  });
});

describe('run order', () => {
  it('is seed-major, so a partly run study is balanced across cells', () => {
    const spec = parseStudy(tinyStudy({ seeds: [7, 3] }));
    const runs = expandRuns(spec);
    expect(runs.map((r) => `${r.cell.selection}/${r.seed}`)).toEqual([
      'pimp/7',
      'tournament/7',
      'random-mate/7',
      'pimp/3',
      'tournament/3',
      'random-mate/3',
    ]);
  });
});
