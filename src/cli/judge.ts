import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { checkOutputDir, makeDir, writeFileAtomic } from '../core/atomic.js';
import { ConfigError, parseJson } from '../core/errors.js';
import { DEFAULT_ENGINE_CHOICES, DEFAULT_EVOLUTION_OPTIONS, recordedEvolution, stripUndefined } from '../core/options.js';
import { FIRST_PARENT_MODES, PREFERENCE_INHERITANCE, SELECTION_MODES } from '../core/types.js';
import { LazyBackend, type JudgeBackend } from '../judge/backend.js';
import { JudgeCache, JudgeService } from '../judge/cache.js';
import { DATA_FORMATS, loadItems, splitItems, type DataFormat, type JudgeItem, type LoadOptions } from '../judge/data.js';
import { scoreTemplate, judgeLoss, type JudgeMetrics, type LossWeights } from '../judge/fitness.js';
import { validateGenome } from '../judge/genome.js';
import { HttpBackend } from '../judge/http.js';
import { defaultLibrary } from '../judge/library.js';
import { LlamaBackend, llamaKeys } from '../judge/llama.js';
import {
  DEFAULT_READING,
  DEFAULT_REASONED_MAX_TOKENS,
  DEFAULT_WEIGHTS,
  JUDGE_DEFAULTS,
  JUDGE_DISTANCES,
  resolveJudgeOptions,
  resolveReading,
  resolveWeights,
  REWRITE_MODES,
  type JudgeOptions,
  type ReadingSettings,
} from '../judge/options.js';
import { renderTemplate, templateFromText, type PromptTemplate, type RenderOptions } from '../judge/render.js';
import { evolveJudge, promptText } from '../judge/run.js';
import { PROTOCOLS, type Protocol } from '../judge/verdict.js';
import { flag, helpText, namingFlags, parseFlags, toggle, type CommandFlags, type FlagValue } from './flags.js';

/** Every flag of `gpmate judge`: parsing, --help and error messages come from this table. */
export const JUDGE_FLAGS: CommandFlags = {
  head: `gpmate judge: evolve LLM-judge prompts (pairwise: is response A or B better?)

Usage:
  gpmate judge evolve --data FILE --backend llama|http --model M [options]
  gpmate judge eval   --prompt FILE --data FILE --backend llama|http --model M [options]`,
  sections: [
    {
      title: 'Data',
      flags: [
        flag(
          'data FILE',
          'data',
          'string',
          'LLMBar JSON, PandaLM test JSON, JSONL {instruction, response_a, response_b, label}\nor preference pairs {prompt, chosen, rejected} (JSONL or a JSON array)',
        ),
        flag('format F', 'format', { choices: DATA_FORMATS }, DATA_FORMATS.join(' | '), 'from the file'),
        flag(
          'fields K=NAME,...',
          'fields',
          'string',
          "jsonl/pairs: the file's names (dotted paths) for the layout's fields,\ne.g. instruction=question,response_a=answer1,label=winner",
        ),
        flag('labels A=V,B=V,tie=V', 'labels', 'string', "jsonl: the file's label values", 'A/B or 1/2, tie or 0'),
        toggle('keep-ties', 'keepTies', 'PandaLM/JSONL: keep items labelled as a tie, scored 1/2 (default: dropped)'),
        flag('split P', 'split', 'number', 'share of items for training, rest held out for test', '0.5'),
        flag('limit N', 'limit', 'int', 'use N items (after the seeded shuffle)', 'all'),
        flag('max-chars N', 'maxChars', 'int', 'longest response shown to the judge', '2000'),
      ],
    },
    {
      title: 'Back end',
      flags: [
        flag(
          'backend B',
          'backend',
          { choices: ['llama', 'http'] },
          'llama (in-process GGUF via node-llama-cpp) | http (OpenAI-compatible)',
        ),
        flag('model M', 'model', 'string', 'llama: path of a .gguf file; http: the model name'),
        flag('base-url URL', 'baseUrl', 'string', 'http: e.g. http://127.0.0.1:8080/v1'),
        flag('api-key-env VAR', 'apiKeyEnv', 'string', 'http: environment variable holding the API key (never logged)'),
        flag('concurrency N', 'concurrency', 'int', 'http: requests in flight', '4'),
        flag('timeout MS', 'timeoutMs', 'int', 'http: per request', '60000'),
        flag('retries N', 'retries', 'int', 'http: retries on 429/5xx/timeouts', '4'),
        flag('top-logprobs K', 'topLogprobs', 'int', 'http: top_logprobs asked for (0: verdicts from the text)', '20'),
        flag(
          'extra-body JSON',
          'extraBody',
          'string',
          'http: server options merged into each judgement request, e.g.\n\'{"chat_template_kwargs": {"enable_thinking": false}}\'',
        ),
        flag('context N', 'contextSize', 'int', 'llama: context size', '4096'),
        flag('threads N', 'threads', 'int', 'llama: CPU threads', '1'),
        flag('gpu-layers N', 'gpuLayers', 'int', 'llama: layers offloaded to a GPU (0: CPU only)', '0'),
        flag('cache FILE', 'cache', 'string', 'SQLite cache', 'OUT/judge-cache.sqlite; eval: gpmate-runs/judge-cache.sqlite'),
        flag(
          'budget N',
          'budget',
          'int',
          'most paid requests in this run (retries included)\nreaching it writes the best prompt so far; a rerun with a larger budget resumes from the cache',
          'no limit',
        ),
      ],
    },
    {
      title: 'Judge',
      flags: [
        flag(
          'protocol P',
          'protocol',
          { choices: PROTOCOLS },
          'direct | reasoned\ndirect: the letter at once; reasoned: reasoning, then a line "Verdict: A" or "Verdict: B";\n<think> blocks are ignored either way',
          DEFAULT_READING.protocol,
        ),
        flag(
          'max-tokens N',
          'maxTokens',
          'int',
          "tokens of a judge's answer",
          `${DEFAULT_READING.maxTokens} direct, ${DEFAULT_REASONED_MAX_TOKENS} reasoned`,
        ),
        flag(
          'min-letter-mass M',
          'minLetterMass',
          'number',
          'letter mass needed at the verdict letter\nbelow it the parsed text decides; without a letter the verdict is unreadable',
          String(DEFAULT_READING.minLetterMass),
        ),
        toggle('ties', 'ties', 'three-way verdicts (C = tie), scored against tie labels; keeps tie items'),
      ],
    },
    {
      title: 'Search (evolve)',
      flags: [
        flag('selection MODE', 'selection', { choices: SELECTION_MODES }, SELECTION_MODES.join(' | '), shown('selection')),
        flag(
          'first-parent S',
          'firstParent',
          { choices: FIRST_PARENT_MODES },
          'tournament | lexicase | pareto\nlexicase: epsilon-lexicase on per-item losses; pareto: GEPA-style, best on some item',
          DEFAULT_ENGINE_CHOICES.firstParent,
        ),
        flag('distance D', 'distance', { choices: JUDGE_DISTANCES }, 'pimp distance: behavioural | structural', shown('distance')),
        flag('population N', 'populationSize', 'int', 'prompts per generation', shown('populationSize')),
        flag('generations G', 'generations', 'int', 'generations after the initial one', shown('generations')),
        flag('elites E', 'elites', 'int', 'best prompts copied unchanged', shown('elites')),
        flag('tournament K', 'tournamentSize', 'int', 'tournament size', shown('tournamentSize')),
        flag('pool M', 'poolSize', 'int', 'candidates per mate choice', 'the tournament size'),
        flag('crossover-rate P', 'crossoverRate', 'number', 'probability of crossover', shown('crossoverRate')),
        flag('mutation-rate P', 'mutationRate', 'number', 'probability of mutation', shown('mutationRate')),
        flag(
          'preference-inheritance I',
          'preferenceInheritance',
          { choices: PREFERENCE_INHERITANCE },
          'crossover | chooser',
          shown('preferenceInheritance'),
        ),
        flag('minibatch N', 'minibatch', 'int', 'training items scored per generation', shown('minibatch')),
        flag('probe N', 'probe', 'int', 'probe items of the behavioural distance', shown('probe')),
        flag('max-criteria N', 'maxCriteria', 'int', 'most criteria in a prompt', shown('maxCriteria')),
        flag('max-examples N', 'maxExamples', 'int', 'most few-shot examples in a prompt', shown('maxExamples')),
        flag(
          'example-pool N',
          'examplePool',
          'int',
          'training items set apart as few-shot examples (never scored)',
          '4 per example, at most 1/4 of the training split',
        ),
        flag('llm-rate P', 'llmRate', 'number', 'share of variations that are LLM rewrites (EvoPrompt-style)', shown('llmRate')),
        flag('generator-model M', 'generatorModel', 'string', 'model that writes them, on the same back end', 'the judge model'),
        flag('rewrite-tokens N', 'rewriteTokens', 'int', 'most tokens per rewrite', shown('rewriteTokens')),
        flag(
          'rewrite R',
          'rewrite',
          { choices: REWRITE_MODES },
          'LLM mutations: plain | reflective\nreflective (GEPA-style): the generator sees the items the prompt got wrong or flipped',
          shown('rewrite'),
        ),
        flag(
          'rewrite-temperature T',
          'rewriteTemperature',
          'number',
          'sampling temperature of rewrites (above 0 each rewrite is seeded)',
          shown('rewriteTemperature'),
        ),
        flag('reflect-tokens N', 'reflectTokens', 'int', 'token budget of the failures a reflective rewrite shows', shown('reflectTokens')),
        ...(['accuracy', 'consistency', 'brier', 'cost'] as const).map((w) =>
          flag(
            `w-${w} W`,
            `weights.${w}`,
            'number',
            `loss weight of ${w}${w === 'cost' ? ' (per 1000 prompt tokens)' : ''}`,
            String(DEFAULT_WEIGHTS[w]),
          ),
        ),
      ],
    },
    {
      title: 'Run',
      flags: [
        flag('seed N', 'seed', 'int', 'seed of every random choice', shown('seed')),
        flag('out DIR', 'out', 'string', 'output folder', 'gpmate-runs/judge-<data>-<selection>-seed<N>'),
        toggle('quiet', 'quiet', 'no per-generation lines'),
        flag(
          'prompt FILE',
          'prompt',
          'string',
          'eval: a prompt JSON (as evolve writes it) or a text with {{instruction}}, {{response_a}}, {{response_b}}',
        ),
        flag('on S', 'on', { choices: ['all', 'train', 'test'] }, 'eval: all | train | test', 'all'),
      ],
    },
  ],
};

/** The default of a search option, for the help text: the judge's own, else the engine's. */
function shown(key: keyof typeof JUDGE_DEFAULTS | keyof typeof DEFAULT_EVOLUTION_OPTIONS): string {
  return String((JUDGE_DEFAULTS as Record<string, unknown>)[key] ?? (DEFAULT_EVOLUTION_OPTIONS as Record<string, unknown>)[key]);
}

export const JUDGE_HELP = helpText(JUDGE_FLAGS);

/** The parsed flags by key. */
type Values = Readonly<Record<string, FlagValue>>;
const str = (v: Values, k: string) => v[k] as string | undefined;
const int = (v: Values, k: string) => v[k] as number | undefined;

function need(v: Values, key: string, flag: string): string {
  const x = str(v, key);
  if (x === undefined || x === '') throw new ConfigError(`option --${flag}: required`);
  return x;
}

interface Common {
  readonly items: JudgeItem[];
  readonly dataName: string;
  readonly seed: number;
  readonly trainShare: number;
  readonly limit?: number;
  readonly render: RenderOptions;
  readonly reading: ReadingSettings;
}

/** `K=V,K=V` (--fields, --labels) as an object. */
function keyValues(v: Values, key: string, flag: string): Record<string, string> | undefined {
  const text = str(v, key);
  if (text === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((x) => x.trim())) {
    const m = /^([^=]+)=(.+)$/.exec(part);
    if (!m) throw new ConfigError(`option --${flag}: expected KEY=VALUE pairs separated by commas, got "${part}"`);
    out[(m[1] as string).trim()] = (m[2] as string).trim();
  }
  return out;
}

/** How the judge is asked and read, from the flags. */
function readingOf(v: Values): ReadingSettings {
  return resolveReading(
    stripUndefined({
      protocol: str(v, 'protocol') as Protocol | undefined,
      maxTokens: int(v, 'maxTokens'),
      minLetterMass: v['minLetterMass'] as number | undefined,
      ties: v['ties'] === true ? true : undefined,
    }),
  );
}

function common(v: Values): Common {
  const data = need(v, 'data', 'data');
  const seed = int(v, 'seed') ?? JUDGE_DEFAULTS.seed;
  if (seed < 0) throw new ConfigError(`option --seed: expected an integer >= 0, got ${seed}`);
  const maxChars = int(v, 'maxChars');
  if (maxChars !== undefined && maxChars < 1) throw new ConfigError(`option --max-chars: expected an integer >= 1, got ${maxChars}`);
  const limit = int(v, 'limit');
  const reading = readingOf(v);
  const load: LoadOptions = stripUndefined({
    keepTies: v['keepTies'] === true || reading.ties,
    fields: keyValues(v, 'fields', 'fields'),
    labels: keyValues(v, 'labels', 'labels'),
    seed,
  });
  return {
    items: loadItems(data, str(v, 'format') as DataFormat | undefined, load),
    dataName: basename(data).replace(/\.[^.]+$/, ''),
    seed,
    trainShare: (v['split'] as number | undefined) ?? 0.5,
    ...(limit !== undefined ? { limit } : {}),
    render: {
      ...(maxChars !== undefined ? { maxChars } : {}),
      ...(reading.protocol !== 'direct' ? { protocol: reading.protocol } : {}),
      ...(reading.ties ? { ties: true } : {}),
    },
    reading,
  };
}

function extraBody(v: Values): Record<string, unknown> | undefined {
  const raw = str(v, 'extraBody');
  if (raw === undefined) return undefined;
  const o = parseJson(raw, 'option --extra-body');
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new ConfigError('option --extra-body: expected a JSON object');
  return o as Record<string, unknown>;
}

/** Opens the back end named by the options (nothing is loaded for the other one). */
export async function openBackend(v: Values, model = need(v, 'model', 'model'), reading = readingOf(v)): Promise<JudgeBackend> {
  const backend = need(v, 'backend', 'backend');
  if (backend === 'llama') {
    // Checked and hashed now, loaded on the first judgement that is not in the cache.
    const o = stripUndefined({
      modelPath: model,
      contextSize: int(v, 'contextSize'),
      threads: int(v, 'threads'),
      gpuLayers: int(v, 'gpuLayers'),
      judge: reading,
    }) as { modelPath: string };
    const k = llamaKeys(o);
    return new LazyBackend(k.id, k.model, k.judgeKey, k.generateKey, () => LlamaBackend.open(o));
  }
  return HttpBackend.open(
    stripUndefined({
      baseUrl: need(v, 'baseUrl', 'base-url'),
      model,
      apiKeyEnv: str(v, 'apiKeyEnv'),
      concurrency: int(v, 'concurrency'),
      timeoutMs: int(v, 'timeoutMs'),
      retries: int(v, 'retries'),
      topLogprobs: int(v, 'topLogprobs'),
      extraBody: extraBody(v),
      judge: reading,
    }) as { baseUrl: string; model: string },
  );
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

/** One line of metrics (skipped items and text-read verdicts only when there are any). */
export function metricsLine(m: JudgeMetrics): string {
  const skipped = m.skipped.overflow + m.skipped.shown;
  return (
    `accuracy ${pct(m.accuracy)} (AB ${pct(m.accuracyAB)}, BA ${pct(m.accuracyBA)})  consistency ${pct(m.consistency)}  brier ${m.brier.toFixed(4)}  prompt tokens ${m.promptTokens.toFixed(0)}  readable ${pct(m.readable)}` +
    (m.fromText > 0 ? ` (from text ${pct(m.fromText)})` : '') +
    `  items ${m.items}` +
    (skipped ? ` (skipped: ${m.skipped.overflow} over the context, ${m.skipped.shown} shown as examples)` : '')
  );
}

/** Accuracy when the longer response is the better one vs when it is the worse one. */
export function lengthBiasLine(m: JudgeMetrics): string {
  const b = (x: { items: number; accuracy: number }) => (x.items ? `${pct(x.accuracy)} of ${x.items}` : 'no items');
  return `longer better ${b(m.lengthBias.longerBetter)}, longer worse ${b(m.lengthBias.longerWorse)}`;
}

/** The loss weights given by --w-* flags. */
function givenWeights(v: Values): Partial<LossWeights> {
  const w = (k: string) => v[`weights.${k}`] as number | undefined;
  return stripUndefined({ accuracy: w('accuracy'), consistency: w('consistency'), brier: w('brier'), cost: w('cost') });
}

/** The search options the flags give (the judge options model fills the rest). */
function searchOptions(v: Values, c: Common): JudgeOptions {
  const keys = ['selection', 'firstParent', 'distance', 'populationSize', 'generations', 'elites', 'tournamentSize', 'poolSize'];
  const more = [
    'crossoverRate',
    'mutationRate',
    'preferenceInheritance',
    'minibatch',
    'probe',
    'maxCriteria',
    'maxExamples',
    'examplePool',
  ];
  const llm = ['llmRate', 'rewriteTokens', 'rewrite', 'rewriteTemperature', 'reflectTokens'];
  return {
    ...Object.fromEntries([...keys, ...more, ...llm].filter((k) => v[k] !== undefined).map((k) => [k, v[k]])),
    ...c.reading,
    seed: c.seed,
    weights: givenWeights(v),
  };
}

/** Opens the back ends, then the cache, then runs: every flag is checked before the cache is created, so that bad input leaves no file behind. */
async function withService<T>(v: Values, cachePath: string, run: (s: JudgeService) => Promise<T>): Promise<T> {
  checkOutputDir(dirname(cachePath), 'cache');
  let cache: JudgeCache | undefined;
  let backend: JudgeBackend | undefined;
  let generator: JudgeBackend | undefined;
  let service: JudgeService | undefined;
  try {
    backend = await openBackend(v);
    const generatorModel = str(v, 'generatorModel');
    if (generatorModel !== undefined) generator = await openBackend(v, generatorModel);
    const budget = int(v, 'budget');
    if (budget !== undefined && budget < 0) throw new ConfigError(`option --budget: expected an integer >= 0, got ${budget}`);
    makeDir(dirname(cachePath));
    cache = new JudgeCache(cachePath);
    service = new JudgeService(backend, cache, budget, generator);
    return await run(service);
  } finally {
    await service?.settle();
    if (service) process.stdout.write(`${service.summary()}\n`);
    await generator?.close();
    await backend?.close();
    cache?.close();
  }
}

async function evolveCommand(v: Values): Promise<number> {
  const c = common(v);
  const split = splitItems(c.items, c.trainShare, c.seed, c.limit);
  const settings = resolveJudgeOptions(searchOptions(v, c));
  const out = str(v, 'out') ?? join('gpmate-runs', `judge-${c.dataName}-${settings.selection}-seed${c.seed}`);
  checkOutputDir(out, 'out');
  const cachePath = str(v, 'cache') ?? join(out, 'judge-cache.sqlite');
  const quiet = v['quiet'] === true;
  process.stdout.write(
    `judge evolve: ${c.items.length} items, train ${split.train.length}, test ${split.test.length}; cache ${cachePath}\n`,
  );
  const log: string[] = [];
  const render = c.render.maxChars !== undefined ? { maxChars: c.render.maxChars } : {};
  const result = await withService(v, cachePath, (service) =>
    evolveJudge(service, split, { ...settings, library: defaultLibrary(), render }, (s, elite) => {
      log.push(JSON.stringify({ ...s, eliteTrain: elite.metrics }));
      if (!quiet) {
        process.stdout.write(
          `gen ${String(s.generation).padStart(3)}  best ${s.bestFitness.toFixed(4)}  median ${s.medianFitness.toFixed(4)}  elite train loss ${s.eliteTrainLoss.toFixed(4)} acc ${pct(elite.metrics.accuracy)} cons ${pct(elite.metrics.consistency)}  unique ${(s.uniqueShare * 100).toFixed(0)}%  ${service.summary()}\n`,
        );
      }
    }),
  );
  const b = result.best;
  if (result.stoppedBy)
    process.stdout.write(
      `\nstopped by --budget: wrote the best prompt found so far; rerun with a larger --budget to resume from the cache\n`,
    );
  if (b) {
    process.stdout.write(`\nbest prompt:\n${promptText(b)}\ntrain: loss ${b.loss.toFixed(4)}  ${metricsLine(b.metrics)}\n`);
    if (result.bestTest && result.baseline) {
      process.stdout.write(
        `test:  loss ${result.bestTest.loss.toFixed(4)}  ${metricsLine(result.bestTest.metrics)}\n` +
          `baseline test: loss ${result.baseline.testLoss.toFixed(4)}  ${metricsLine(result.baseline.test)}\n` +
          `length bias (test): best ${lengthBiasLine(result.bestTest.metrics)}; baseline ${lengthBiasLine(result.baseline.test)}\n`,
      );
    }
  }
  const r = result.rewrites;
  if (r.requested) process.stdout.write(`LLM rewrites: ${r.requested} requested, ${r.done} done, ${r.skipped} skipped\n`);
  const generatorModel = str(v, 'generatorModel');
  const summary = {
    data: basename(need(v, 'data', 'data')),
    items: { total: c.items.length, train: split.train.length, test: split.test.length, examplePool: result.examplePool },
    seed: c.seed,
    options: {
      ...recordedEvolution(settings),
      ...(settings.firstParent !== undefined ? { firstParent: settings.firstParent } : {}),
      distance: settings.distance,
      minibatch: settings.minibatch,
      probe: settings.probe,
      weights: settings.weights,
      judge: c.reading,
      llmRate: settings.llmRate,
      ...(settings.llmRate ? { rewrite: settings.rewrite, rewriteTemperature: settings.rewriteTemperature } : {}),
      ...(generatorModel !== undefined ? { generator: basename(generatorModel) } : {}),
      render: c.render,
    },
    ...(result.stoppedBy ? { stoppedBy: result.stoppedBy } : {}),
    best: b
      ? {
          genome: b.genome,
          train: { loss: b.loss, ...b.metrics },
          test: result.bestTest ? { loss: result.bestTest.loss, ...result.bestTest.metrics } : null,
        }
      : null,
    baseline: result.baseline
      ? {
          train: { loss: result.baseline.trainLoss, ...result.baseline.train },
          test: { loss: result.baseline.testLoss, ...result.baseline.test },
        }
      : null,
    rewrites: result.rewrites,
    generations: result.generations,
    evaluations: result.evaluations,
  };
  makeDir(out);
  writeFileAtomic(join(out, 'generations.jsonl'), log.join('\n') + (log.length ? '\n' : ''));
  if (b) {
    writeFileAtomic(join(out, 'best-prompt.txt'), promptText(b));
    writeFileAtomic(join(out, 'best-prompt.json'), JSON.stringify({ ...b.genome, template: b.template }, null, 2) + '\n');
  }
  writeFileAtomic(join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  process.stdout.write(`wrote ${out}/${b ? 'best-prompt.txt, best-prompt.json, ' : ''}summary.json, generations.jsonl\n`);
  return 0;
}

/**
 * Reads a prompt file: JSON (a genome, as evolve writes it; few-shot examples are texts, or item ids
 * of `items` in files of the first format) or a text template with the placeholders.
 */
export function readPrompt(file: string, items: readonly JudgeItem[], render: RenderOptions): PromptTemplate {
  if (!existsSync(file)) throw new ConfigError(`option --prompt: file ${file} not found`);
  const text = readFileSync(file, 'utf8');
  if (/\.json$/i.test(file)) {
    const raw = parseJson(text, `prompt ${file}`);
    const byId = new Map(items.map(({ id, ...x }) => [id, x]));
    return renderTemplate(
      validateGenome(raw, file, (id) => byId.get(id)),
      render,
    );
  }
  return templateFromText(text, file);
}

async function evalCommand(v: Values): Promise<number> {
  const c = common(v);
  const on = (str(v, 'on') ?? 'all') as 'all' | 'train' | 'test';
  const split = splitItems(c.items, c.trainShare, c.seed, c.limit);
  const items = on === 'all' ? [...split.train, ...split.test] : split[on];
  const template = readPrompt(need(v, 'prompt', 'prompt'), c.items, c.render);
  const weights = resolveWeights(givenWeights(v));
  const cachePath = str(v, 'cache') ?? join('gpmate-runs', 'judge-cache.sqlite');
  const out = str(v, 'out');
  if (out !== undefined) checkOutputDir(out, 'out');
  const { metrics } = await withService(v, cachePath, (s) => scoreTemplate(s, template, items, c.render));
  const loss = judgeLoss(metrics, weights);
  process.stdout.write(
    `${on} (${items.length} items): loss ${loss.toFixed(4)}  ${metricsLine(metrics)}\nlength bias: ${lengthBiasLine(metrics)}\n`,
  );
  if (out !== undefined) {
    makeDir(out);
    writeFileAtomic(
      join(out, 'eval.json'),
      JSON.stringify({ prompt: basename(str(v, 'prompt') as string), on, judge: c.reading, loss, ...metrics }, null, 2) + '\n',
    );
  }
  return 0;
}

/** `gpmate judge evolve | eval`. */
export async function judgeCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  return namingFlags(JUDGE_FLAGS, async () => {
    const { values: v, help } = parseFlags(JUDGE_FLAGS, rest);
    if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h' || help) {
      process.stdout.write(JUDGE_HELP);
      return 0;
    }
    if (sub === 'evolve') return await evolveCommand(v);
    if (sub === 'eval') return await evalCommand(v);
    throw new ConfigError(`unknown judge command "${sub}" (expected evolve or eval)`);
  });
}
