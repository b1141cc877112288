import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evolve } from '../src/core/evolve.js';
import { Rng } from '../src/core/rng.js';
import { SELECTION_MODES, type Evaluator } from '../src/core/types.js';
import type { Judgement } from '../src/judge/backend.js';
import { preferA } from '../src/judge/backend.js';
import { answerLetter, parseVerdict, stripThinking } from '../src/judge/verdict.js';
import { contentKey, loadItems, splitItems, type Example, type JudgeItem } from '../src/judge/data.js';
import { judgeLoss, metricsOf, cleanRewrite, itemLosses } from '../src/judge/fitness.js';
import {
  baselineGenome,
  genomeKey,
  genomeSize,
  PROMPT_MUTATION_NAMES,
  PROMPT_MUTATIONS,
  promptRepresentation,
  validateGenome,
  sectionCrossover,
  structuralDistance,
  TEXT_SECTIONS,
  type PromptGenome,
} from '../src/judge/genome.js';
import { defaultLibrary } from '../src/judge/library.js';
import { answerCue, fillTemplate, renderTemplate, templateFromText, templateText } from '../src/judge/render.js';
import { LLMBAR, PANDALM, tmp } from './judge-helpers.js';

const lib = defaultLibrary();
const pool: Example[] = ['e1', 'e2', 'e3'].map((x, i) => ({
  instruction: `q ${x}`,
  response1: `a ${x}`,
  response2: `b ${x}`,
  label: i % 2 ? 1 : 2,
}));
const rep = promptRepresentation({ library: lib, examplePool: pool, maxCriteria: 5, maxExamples: 2 });
const ctx = { lib, pool, maxCriteria: 5, maxExamples: 2 };

function randoms(seed: number, n: number): PromptGenome[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => rep.random(rng, i, n));
}

describe('prompt genome', () => {
  it('draws every section from the shipped library, within the limits', () => {
    for (const g of randoms(1, 200)) {
      for (const s of TEXT_SECTIONS) expect((lib[s] as readonly string[]).includes(g[s])).toBe(true);
      expect(g.criteria.length).toBeGreaterThanOrEqual(1);
      expect(g.criteria.length).toBeLessThanOrEqual(5);
      expect(new Set(g.criteria).size).toBe(g.criteria.length);
      expect(g.examples.every((e) => pool.includes(e))).toBe(true);
      expect(new Set(g.examples.map(contentKey)).size).toBe(g.examples.length);
      expect(g.examples.length).toBeLessThanOrEqual(2);
      expect(genomeSize(g)).toBe(4 + g.criteria.length + g.examples.length);
    }
  });

  it('each mutation changes the genome and leaves its input untouched', () => {
    const rng = new Rng(7);
    for (const name of PROMPT_MUTATION_NAMES) {
      let changed = 0;
      for (const g of randoms(2, 60)) {
        const before = genomeKey(g);
        const m = PROMPT_MUTATIONS[name](rng, g, ctx);
        expect(genomeKey(g)).toBe(before);
        if (genomeKey(m) !== before) changed++;
        expect(m.criteria.length).toBeLessThanOrEqual(5);
      }
      expect(changed, name).toBeGreaterThanOrEqual(55);
    }
  });

  it('add / drop change the number of criteria by one; reorder keeps the set', () => {
    const rng = new Rng(3);
    const g: PromptGenome = { ...baselineGenome(), criteria: [lib.criteria[0]!, lib.criteria[1]!, lib.criteria[2]!] };
    expect(PROMPT_MUTATIONS['add-criterion'](rng, g, ctx).criteria).toHaveLength(4);
    expect(PROMPT_MUTATIONS['drop-criterion'](rng, g, ctx).criteria).toHaveLength(2);
    const r = PROMPT_MUTATIONS['reorder-criteria'](rng, g, ctx);
    expect([...r.criteria].sort()).toEqual([...g.criteria].sort());
    expect(r.criteria).not.toEqual(g.criteria);
  });

  it('section-wise crossover takes each section from one parent, about half from each', () => {
    const rng = new Rng(11);
    const [a, b] = randoms(4, 2) as [PromptGenome, PromptGenome];
    a.role = lib.role[0]!;
    b.role = lib.role[1]!;
    let fromB = 0;
    for (let i = 0; i < 400; i++) {
      const c = sectionCrossover(rng, a, b, 5);
      for (const s of TEXT_SECTIONS) expect([a[s], b[s]]).toContain(c[s]);
      expect(c.criteria.every((x) => a.criteria.includes(x) || b.criteria.includes(x))).toBe(true);
      expect(c.criteria.length).toBeLessThanOrEqual(5);
      if (c.role === b.role) fromB++;
    }
    expect(fromB).toBeGreaterThan(160);
    expect(fromB).toBeLessThan(240);
  });

  it('structural distance is 0 exactly on equal genomes, symmetric, and obeys the triangle inequality', () => {
    const gs = randoms(5, 30);
    for (const a of gs) {
      expect(structuralDistance(a, { ...a, criteria: [...a.criteria] })).toBe(0);
      for (const b of gs) {
        const d = structuralDistance(a, b);
        expect(d).toBeCloseTo(structuralDistance(b, a), 12);
        expect(d === 0).toBe(genomeKey(a) === genomeKey(b));
        for (const c of gs.slice(0, 8)) expect(d).toBeLessThanOrEqual(structuralDistance(a, c) + structuralDistance(c, b) + 1e-9);
      }
    }
    const g = gs[0]!;
    const swapped = { ...g, criteria: [...g.criteria].reverse() };
    if (g.criteria.length > 1) expect(structuralDistance(g, swapped)).toBeGreaterThan(0);
  });

  it('an LLM rate turns variation into pending rewrites of one section', () => {
    const llm = promptRepresentation({ library: lib, examplePool: pool, llmRate: 1 });
    const rng = new Rng(9);
    const [a, b] = randoms(6, 2) as [PromptGenome, PromptGenome];
    const m = llm.mutate(rng, a);
    expect(m.pending?.[0]?.kind).toBe('mutate');
    expect([...TEXT_SECTIONS.map((s) => a[s]), ...a.criteria]).toContain(m.pending?.[0]?.text);
    const c = llm.crossover(rng, a, b);
    expect(c.pending?.[0]?.kind).toBe('crossover');
    expect(typeof c.pending?.[0]?.other).toBe('string');
    expect(genomeKey(c)).not.toBe(genomeKey(a));
    // seeded: two requests for the same text carry different seeds
    expect(llm.mutate(rng, a).pending?.[0]?.seed).not.toBe(llm.mutate(rng, a).pending?.[0]?.seed);
    const reflective = promptRepresentation({ library: lib, examplePool: pool, llmRate: 1, rewrite: 'reflective' });
    expect(reflective.mutate(rng, a).pending?.[0]?.kind).toBe('reflect');
    expect(cleanRewrite('\n  "Judge the answers strictly."\nmore', 'x')).toBe('Judge the answers strictly.');
    expect(cleanRewrite('??', 'fallback')).toBe('fallback');
    // thinking never reaches a prompt section
    expect(cleanRewrite('<think>Maybe say A or B.\nHmm.</think>\nJudge only what is written.', 'x')).toBe('Judge only what is written.');
    expect(cleanRewrite('I weighed it.</think>\n**Be strict.**', 'x')).toBe('Be strict.');
    expect(cleanRewrite('<think>cut off by the token limit', 'fallback')).toBe('fallback');
  });

  it('runs under the generic engine in all three selection modes', async () => {
    // A CPU stand-in fitness (the real one is in judge-llama/judge-cli tests): fewer criteria and the
    // strict-grader role are better; evolution must find a prompt at least as good as the initial best.
    const evaluator: Evaluator<PromptGenome> = {
      evaluate: async (gs) => gs.map((g) => g.criteria.length + (g.role === lib.role[2] ? 0 : 1)),
    };
    for (const selection of SELECTION_MODES) {
      const r = await evolve(rep, evaluator, {
        seed: 3,
        populationSize: 30,
        generations: 8,
        selection,
        tournamentSize: 3,
        mutationRate: 0.5,
      });
      expect(r.history[r.history.length - 1]!.bestFitness).toBeLessThanOrEqual(r.history[0]!.bestFitness);
      expect(r.best.fitness).toBeLessThanOrEqual(1);
      expect(r.history[0]!.preference === undefined).toBe(selection === 'tournament');
    }
  });
});

describe('rendering', () => {
  const item: JudgeItem = { id: 'x', instruction: 'Say {{response_a}} hi', response1: 'first', response2: 'second', label: 1 };

  it('renders sections in order and swaps the responses for the BA order', () => {
    const g: PromptGenome = { role: 'ROLE', framing: 'FRAME', criteria: ['c1', 'c2'], procedure: '', format: 'FORMAT', examples: [] };
    const t = renderTemplate(g);
    expect(t.system).toBe('ROLE\n\nFRAME\n\nCriteria:\n1. c1\n2. c2\n\nFORMAT');
    const ab = fillTemplate(t, item, 'AB');
    const ba = fillTemplate(t, item, 'BA');
    expect(ab.user.indexOf('first')).toBeLessThan(ab.user.indexOf('second'));
    expect(ba.user.indexOf('second')).toBeLessThan(ba.user.indexOf('first'));
    // placeholders inside the item's texts stay literal (one-pass substitution)
    expect(ab.user).toContain('Say {{response_a}} hi');
    expect(ab.user.endsWith('Which response is better, A or B?')).toBe(true);
    expect(fillTemplate(renderTemplate(g, { protocol: 'reasoned' }), item, 'AB').user.endsWith(answerCue({ protocol: 'reasoned' }))).toBe(
      true,
    );
    expect(answerCue({ protocol: 'reasoned', ties: true })).toContain('"Verdict: C"');
  });

  it('shows few-shot examples (stored as texts) with their labels, and keeps them out of scoring', () => {
    const ex: Example = { instruction: 'I', response1: 'R1', response2: 'R2', label: 2 };
    const g = { ...baselineGenome(), examples: [ex] };
    const t = renderTemplate(g);
    expect(t.user).toContain('Instruction: I\nResponse A: R1\nResponse B: R2\nBetter response: B');
    expect(t.shown).toEqual([contentKey(ex)]);
    // the same pair with the responses swapped is the same item
    expect(contentKey({ ...ex, response1: 'R2', response2: 'R1', label: 1 })).toBe(contentKey(ex));
    // prompt files: examples as texts, or (first format) as ids found in the data file
    expect(validateGenome(JSON.parse(JSON.stringify(g)), 'p.json').examples).toEqual([ex]);
    const old = { ...g, examples: ['e1'] };
    expect(validateGenome(old, 'p.json', (id) => (id === 'e1' ? ex : undefined)).examples).toEqual([ex]);
    expect(() => validateGenome(old, 'p.json')).toThrow(/p\.json: few-shot example "e1" is an item id/);
    expect(() => validateGenome({ ...g, examples: [{ instruction: 'x' }] }, 'p.json')).toThrow(/field "examples" must hold/);
  });

  it('reads a text template only when all placeholders are there', () => {
    const t = templateFromText('Q {{instruction}} A {{response_a}} B {{response_b}}', 'p.txt');
    expect(fillTemplate(t, item, 'AB').user).toBe('Q Say {{response_a}} hi A first B second');
    expect(() => templateFromText('no placeholders', 'p.txt')).toThrow(/p\.txt: missing placeholder \{\{instruction\}\}/);
    expect(templateText(t)).toContain('{{response_b}}');
  });
});

describe('verdicts and metrics', () => {
  const j = (pA: number, pB: number, source: Judgement['source'] = 'probabilities', pTie = 0): Judgement => ({
    pA,
    pB,
    pTie,
    text: '',
    source,
    promptTokens: 100,
    completionTokens: 0,
  });

  it('reads letters from tokens and text', () => {
    expect(answerLetter(' A')).toBe('A');
    expect(answerLetter('(B')).toBe('B');
    expect(answerLetter('▁A')).toBe('A');
    expect(answerLetter('An')).toBeUndefined();
    expect(answerLetter('a')).toBeUndefined();
    const direct = { protocol: 'direct', ties: false } as const;
    const reasoned = { protocol: 'reasoned', ties: false } as const;
    expect(parseVerdict('Response B is better', direct)?.letter).toBe('B');
    expect(parseVerdict('A.', direct)).toEqual({ letter: 'A', index: 0 });
    expect(parseVerdict('Both are fine', direct)).toBeUndefined();
    // malformed: two different letters, or a tie word without --ties
    expect(parseVerdict('A or B', direct)).toBeUndefined();
    expect(parseVerdict('tie', direct)).toBeUndefined();
    expect(parseVerdict('C', { protocol: 'direct', ties: true })?.letter).toBe('C');
    // the verdict line, with markdown, the last one counting; thinking ignored
    const text = '<think>A looks right. Verdict: A</think>\nResponse A is longer, but B is right.\n**Verdict: B**';
    expect(parseVerdict(text, reasoned)).toEqual({ letter: 'B', index: text.lastIndexOf('B') });
    expect(parseVerdict(text, direct)?.letter).toBe('B');
    expect(parseVerdict('**Verdict:** A', reasoned)?.letter).toBe('A');
    expect(parseVerdict('I pick [[B]].', reasoned)?.letter).toBe('B');
    expect(parseVerdict('Reasoning first.\n**B**', reasoned)?.letter).toBe('B');
    expect(parseVerdict('A is the better one, I think', reasoned)).toBeUndefined();
    expect(parseVerdict('Verdict: tie', { protocol: 'reasoned', ties: true })?.letter).toBe('C');
    expect(parseVerdict('Verdict: C', reasoned)).toBeUndefined();
    // a template that opened the thinking block, and one cut by the token limit
    expect(parseVerdict('B is wrong, so A.</think>\nB', direct)?.letter).toBe('B');
    expect(parseVerdict('<think>A is right, B is', direct)).toBeUndefined();
    expect(stripThinking('<think>x</think>\n  Keep  this ')).toBe('Keep this');
    expect(preferA(j(0.3, 0.1))).toBeCloseTo(0.75);
    expect(preferA(j(0, 0))).toBe(0.5);
  });

  it('computes accuracy over both orders, swap consistency and the Brier score of the debiased probability', () => {
    const items: JudgeItem[] = [
      { id: '1', instruction: '', response1: '', response2: '', label: 1 },
      { id: '2', instruction: '', response1: '', response2: '', label: 2 },
    ];
    // item 1: AB says A (=1, right) with 0.8; BA says A (=2, wrong) with 0.6 -> q2 = 0.4
    // item 2: AB says B (=2, right) with 0.9 -> q1 = 0.1; BA says A (=2, right) 0.7 -> q2 = 0.3
    const { metrics, verdicts } = metricsOf(items, [j(0.8, 0.2), j(0.1, 0.9)], [j(0.6, 0.4), j(0.7, 0.3, 'text')]);
    expect(verdicts[0]!.p).toBeCloseTo(0.6);
    expect(metrics.accuracyAB).toBe(1);
    expect(metrics.accuracyBA).toBe(0.5);
    expect(metrics.accuracy).toBe(0.75);
    expect(metrics.consistency).toBe(0.5);
    expect(metrics.brier).toBeCloseTo(((0.6 - 1) ** 2 + (0.2 - 0) ** 2) / 2);
    expect(metrics.promptTokens).toBe(100);
    expect(metrics.readable).toBe(1);
    expect(metrics.fromText).toBe(0.25);
    const w = { accuracy: 1, consistency: 0.5, brier: 1, cost: 1 };
    expect(judgeLoss(metrics, w)).toBeCloseTo(0.25 + 0.25 + metrics.brier + 0.1);
    // the per-item losses average to the loss
    const cases = itemLosses(metricsOf(items, [j(0.8, 0.2), j(0.1, 0.9)], [j(0.6, 0.4), j(0.7, 0.3, 'text')]).results, w);
    expect((cases[0]! + cases[1]!) / 2).toBeCloseTo(judgeLoss(metrics, w), 12);
  });

  it('scores three-way verdicts against tie labels with --ties, and measures length bias', () => {
    const items: JudgeItem[] = [
      { id: '1', instruction: '', response1: 'long answer', response2: 'short', label: 1 },
      { id: '2', instruction: '', response1: 'long answer', response2: 'short', label: 2 },
      { id: '3', instruction: '', response1: 'x', response2: 'y', label: 0 },
    ];
    // a judge that always picks the longer response (A in order AB, B in BA), and a tie for item 3
    const ab = [j(0.9, 0.1), j(0.9, 0.1), j(0.1, 0.1, 'probabilities', 0.8)];
    const ba = [j(0.1, 0.9), j(0.1, 0.9), j(0.1, 0.1, 'probabilities', 0.8)];
    const t = metricsOf(items, ab, ba, { ties: true }).metrics;
    expect(t.accuracy).toBeCloseTo(2 / 3, 12);
    expect(t.consistency).toBe(1);
    expect(t.lengthBias.longerBetter).toEqual({ items: 1, accuracy: 1 });
    expect(t.lengthBias.longerWorse).toEqual({ items: 1, accuracy: 0 });
    // without --ties the tie mass is ignored and a tie item scores 1/2
    expect(metricsOf(items, ab, ba).metrics.accuracy).toBeCloseTo((1 + 0 + 0.5) / 3, 12);
  });
});

describe('data loaders', () => {
  it('reads LLMBar Natural', () => {
    const items = loadItems(LLMBAR, 'llmbar');
    expect(items).toHaveLength(100);
    expect(items.every((it) => it.label === 1 || it.label === 2)).toBe(true);
    expect(new Set(items.map((it) => it.id)).size).toBe(100);
  });

  it('reads PandaLM by annotator majority, ties dropped or kept', () => {
    const dropped = loadItems(PANDALM, 'pandalm');
    const kept = loadItems(PANDALM, 'pandalm', { keepTies: true });
    expect(kept).toHaveLength(999);
    expect(dropped.length).toBeLessThan(999);
    expect(dropped.every((it) => it.label !== 0)).toBe(true);
    expect(kept.filter((it) => it.label === 0).length).toBe(999 - dropped.length);
  });

  it('reads JSONL and names the file and line of bad input', () => {
    const dir = tmp();
    const good = join(dir, 'good.jsonl');
    writeFileSync(
      good,
      '{"instruction":"i","response_a":"a","response_b":"b","label":"B"}\n\n{"instruction":"j","response_a":"c","response_b":"d","label":"A"}\n',
    );
    expect(loadItems(good).map((it) => it.label)).toEqual([2, 1]);
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"instruction":"i","response_a":"a","response_b":"b","label":"C"}\n');
    expect(() => loadItems(bad)).toThrow(/bad\.jsonl: line 1: unknown label "C" in field "label"/);
    const missing = join(dir, 'missing-field.jsonl');
    writeFileSync(missing, '{"instruction":"i","response_a":"a","label":"A"}\n');
    expect(() => loadItems(missing)).toThrow(/missing-field\.jsonl: line 1: field "response_b" must be a string, got nothing/);
    const wrong = join(dir, 'wrong.json');
    writeFileSync(wrong, '[{"input":"i","output_1":"a","output_2":"b","label":3}]');
    expect(() => loadItems(wrong, 'llmbar')).toThrow(/wrong\.json: item 0: label must be 1 or 2, got 3/);
    expect(() => loadItems(LLMBAR, 'jsonl')).toThrow(/natural\.json: item 0: field "instruction" must be a string/);
    expect(() => loadItems(PANDALM, 'llmbar')).toThrow(/item 0: label must be 1 or 2/);
    expect(() => loadItems(join(dir, 'missing.json'))).toThrow(/missing\.json: not found/);
  });

  it('maps other JSONL layouts and label values, and keeps ties only when asked', () => {
    const dir = tmp();
    const f = join(dir, 'arena.jsonl');
    writeFileSync(
      f,
      [
        { question: { text: 'q1' }, answers: ['x', 'y'], winner: 'model_b' },
        { question: { text: 'q2' }, answers: ['z', 'w'], winner: 'tie' },
      ]
        .map((o) => JSON.stringify(o))
        .join('\n'),
    );
    const o = {
      fields: { instruction: 'question.text', response_a: 'answers.0', response_b: 'answers.1', label: 'winner' },
      labels: { A: 'model_a', B: 'model_b', tie: 'tie' },
    };
    expect(loadItems(f, 'jsonl', o)).toEqual([{ id: 'jsonl-1', instruction: 'q1', response1: 'x', response2: 'y', label: 2 }]);
    expect(loadItems(f, 'jsonl', { ...o, keepTies: true }).map((x) => x.label)).toEqual([2, 0]);
    expect(() => loadItems(f, 'jsonl', { ...o, labels: { A: 'model_a' } })).toThrow(/line 1: unknown label "model_b" in field "winner"/);
    expect(() => loadItems(f, 'jsonl', { fields: { question: 'q' } })).toThrow(
      /option fields: "question" is not a field of the jsonl layout/,
    );
  });

  it('reads chosen/rejected pairs with a seeded A/B order', () => {
    const dir = tmp();
    const f = join(dir, 'prefs.jsonl');
    const rows = Array.from({ length: 40 }, (_, i) => ({ prompt: `p${i}`, chosen: `good ${i}`, rejected: `bad ${i}` }));
    writeFileSync(f, rows.map((o) => JSON.stringify(o)).join('\n'));
    const items = loadItems(f, undefined, { seed: 3 });
    expect(items).toHaveLength(40);
    for (const [i, it] of items.entries()) {
      expect(it.instruction).toBe(`p${i}`);
      expect(it.label === 1 ? it.response1 : it.response2).toBe(`good ${i}`);
    }
    const first = items.filter((it) => it.label === 1).length;
    expect(first).toBeGreaterThan(10);
    expect(first).toBeLessThan(30);
    expect(loadItems(f, 'pairs', { seed: 3 })).toEqual(items);
    expect(loadItems(f, 'pairs', { seed: 4 }).map((x) => x.label)).not.toEqual(items.map((x) => x.label));
    // conversations (the last assistant turn; the prompt from the last user turn) and renamed fields
    const conv = join(dir, 'conv.json');
    const turn = (a: string) => [
      { role: 'user', content: 'hello?' },
      { role: 'assistant', content: a },
    ];
    writeFileSync(conv, JSON.stringify([{ better: turn('hi!'), worse: turn('go away') }]));
    const [c] = loadItems(conv, 'pairs', { fields: { chosen: 'better', rejected: 'worse' } });
    expect(c!.instruction).toBe('hello?');
    expect([c!.response1, c!.response2].sort()).toEqual(['go away', 'hi!']);
    writeFileSync(conv, JSON.stringify([{ prompt: 'p', chosen: 'c' }]));
    expect(() => loadItems(conv, 'pairs')).toThrow(/conv\.json: item 0: field "rejected" must be a string, got nothing/);
  });

  it('splits with a seeded shuffle into disjoint train and test', () => {
    const items = loadItems(LLMBAR);
    const a = splitItems(items, 0.5, 1, 20);
    expect(a.train).toHaveLength(10);
    expect(a.test).toHaveLength(10);
    expect(a.train.filter((x) => a.test.includes(x))).toHaveLength(0);
    expect(splitItems(items, 0.5, 1, 20)).toEqual(a);
    expect(splitItems(items, 0.5, 2, 20).train.map((x) => x.id)).not.toEqual(a.train.map((x) => x.id));
    expect(() => splitItems(items, 1.5, 1)).toThrow(/option split/);
  });
});
