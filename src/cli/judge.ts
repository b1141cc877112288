import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { checkOutputDir, makeDir, writeFileAtomic } from '../core/atomic.js';
import { ConfigError, parseJson } from '../core/errors.js';
import { DEFAULT_EVOLUTION_OPTIONS, recordedEvolution, stripUndefined } from '../core/options.js';
import { PREFERENCE_INHERITANCE, SELECTION_MODES } from '../core/types.js';
import { LazyBackend, type JudgeBackend } from '../judge/backend.js';
import { JudgeCache, JudgeService } from '../judge/cache.js';
import { DATA_FORMATS, loadItems, splitItems, type DataFormat, type JudgeItem } from '../judge/data.js';
import { scoreTemplate, judgeLoss, type JudgeMetrics, type LossWeights } from '../judge/fitness.js';
import { validateGenome } from '../judge/genome.js';
import { HttpBackend } from '../judge/http.js';
import { defaultLibrary } from '../judge/library.js';
import { LlamaBackend } from '../judge/llama.js';
import {
  DEFAULT_WEIGHTS,
  JUDGE_DEFAULTS,
  JUDGE_DISTANCES,
  resolveJudgeOptions,
  resolveWeights,
  type JudgeOptions,
} from '../judge/options.js';
import { renderTemplate, templateFromText, type PromptTemplate, type RenderOptions } from '../judge/render.js';
import { evolveJudge, promptText } from '../judge/run.js';
import { helpText, namingFlags, parseFlags, type CommandFlags, type FlagValue } from './flags.js';

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
        {
          flag: 'data',
          key: 'data',
          kind: 'string',
          arg: 'FILE',
          help: 'LLMBar JSON, PandaLM test JSON or JSONL {instruction, response_a, response_b, label}',
        },
        {
          flag: 'format',
          key: 'format',
          kind: { choices: DATA_FORMATS },
          arg: 'F',
          help: DATA_FORMATS.join(' | '),
          default: 'from the file name',
        },
        {
          flag: 'keep-ties',
          key: 'keepTies',
          kind: 'switch',
          help: 'PandaLM: keep items whose annotator majority is a tie (default: dropped)',
        },
        {
          flag: 'split',
          key: 'split',
          kind: 'number',
          arg: 'P',
          help: 'share of items for training, rest held out for test',
          default: '0.5',
        },
        { flag: 'limit', key: 'limit', kind: 'int', arg: 'N', help: 'use N items (after the seeded shuffle)', default: 'all' },
        { flag: 'max-chars', key: 'maxChars', kind: 'int', arg: 'N', help: 'longest response shown to the judge', default: '2000' },
      ],
    },
    {
      title: 'Back end',
      flags: [
        {
          flag: 'backend',
          key: 'backend',
          kind: { choices: ['llama', 'http'] },
          arg: 'B',
          help: 'llama (in-process GGUF via node-llama-cpp) | http (OpenAI-compatible)',
        },
        { flag: 'model', key: 'model', kind: 'string', arg: 'M', help: 'llama: path of a .gguf file; http: the model name' },
        { flag: 'base-url', key: 'baseUrl', kind: 'string', arg: 'URL', help: 'http: e.g. http://127.0.0.1:8080/v1' },
        {
          flag: 'api-key-env',
          key: 'apiKeyEnv',
          kind: 'string',
          arg: 'VAR',
          help: 'http: environment variable holding the API key (never logged)',
        },
        { flag: 'concurrency', key: 'concurrency', kind: 'int', arg: 'N', help: 'http: requests in flight', default: '4' },
        { flag: 'timeout', key: 'timeoutMs', kind: 'int', arg: 'MS', help: 'http: per request', default: '60000' },
        { flag: 'retries', key: 'retries', kind: 'int', arg: 'N', help: 'http: retries on 429/5xx/timeouts', default: '4' },
        { flag: 'top-logprobs', key: 'topLogprobs', kind: 'int', arg: 'K', help: 'http: top_logprobs asked for', default: '20' },
        { flag: 'context', key: 'contextSize', kind: 'int', arg: 'N', help: 'llama: context size', default: '4096' },
        { flag: 'threads', key: 'threads', kind: 'int', arg: 'N', help: 'llama: CPU threads', default: '1' },
        {
          flag: 'cache',
          key: 'cache',
          kind: 'string',
          arg: 'FILE',
          help: 'SQLite cache',
          default: 'OUT/judge-cache.sqlite; eval: gpmate-runs/judge-cache.sqlite',
        },
        {
          flag: 'budget',
          key: 'budget',
          kind: 'int',
          arg: 'N',
          help: 'most paid calls in this run; rerun to resume from the cache',
          default: 'no limit',
        },
      ],
    },
    {
      title: 'Search (evolve)',
      flags: [
        {
          flag: 'selection',
          key: 'selection',
          kind: { choices: SELECTION_MODES },
          arg: 'MODE',
          help: SELECTION_MODES.join(' | '),
          default: DEFAULT_EVOLUTION_OPTIONS.selection,
        },
        {
          flag: 'distance',
          key: 'distance',
          kind: { choices: JUDGE_DISTANCES },
          arg: 'D',
          help: 'pimp distance: behavioural | structural',
          default: JUDGE_DEFAULTS.distance,
        },
        {
          flag: 'population',
          key: 'populationSize',
          kind: 'int',
          arg: 'N',
          help: 'prompts per generation',
          default: String(JUDGE_DEFAULTS.populationSize),
        },
        {
          flag: 'generations',
          key: 'generations',
          kind: 'int',
          arg: 'G',
          help: 'generations after the initial one',
          default: String(JUDGE_DEFAULTS.generations),
        },
        {
          flag: 'elites',
          key: 'elites',
          kind: 'int',
          arg: 'E',
          help: 'best prompts copied unchanged',
          default: String(DEFAULT_EVOLUTION_OPTIONS.elites),
        },
        {
          flag: 'tournament',
          key: 'tournamentSize',
          kind: 'int',
          arg: 'K',
          help: 'tournament size',
          default: String(JUDGE_DEFAULTS.tournamentSize),
        },
        { flag: 'pool', key: 'poolSize', kind: 'int', arg: 'M', help: 'candidates per mate choice', default: 'the tournament size' },
        {
          flag: 'crossover-rate',
          key: 'crossoverRate',
          kind: 'number',
          arg: 'P',
          help: 'probability of crossover',
          default: String(DEFAULT_EVOLUTION_OPTIONS.crossoverRate),
        },
        {
          flag: 'mutation-rate',
          key: 'mutationRate',
          kind: 'number',
          arg: 'P',
          help: 'probability of mutation',
          default: String(JUDGE_DEFAULTS.mutationRate),
        },
        {
          flag: 'preference-inheritance',
          key: 'preferenceInheritance',
          kind: { choices: PREFERENCE_INHERITANCE },
          arg: 'I',
          help: PREFERENCE_INHERITANCE.join(' | '),
          default: DEFAULT_EVOLUTION_OPTIONS.preferenceInheritance,
        },
        {
          flag: 'minibatch',
          key: 'minibatch',
          kind: 'int',
          arg: 'N',
          help: 'training items scored per generation',
          default: String(JUDGE_DEFAULTS.minibatch),
        },
        {
          flag: 'probe',
          key: 'probe',
          kind: 'int',
          arg: 'N',
          help: 'probe items of the behavioural distance',
          default: String(JUDGE_DEFAULTS.probe),
        },
        {
          flag: 'max-criteria',
          key: 'maxCriteria',
          kind: 'int',
          arg: 'N',
          help: 'most criteria in a prompt',
          default: String(JUDGE_DEFAULTS.maxCriteria),
        },
        {
          flag: 'max-examples',
          key: 'maxExamples',
          kind: 'int',
          arg: 'N',
          help: 'most few-shot examples in a prompt',
          default: String(JUDGE_DEFAULTS.maxExamples),
        },
        {
          flag: 'llm-rate',
          key: 'llmRate',
          kind: 'number',
          arg: 'P',
          help: 'share of variations that are LLM rewrites (EvoPrompt-style)',
          default: String(JUDGE_DEFAULTS.llmRate),
        },
        {
          flag: 'generator-model',
          key: 'generatorModel',
          kind: 'string',
          arg: 'M',
          help: 'model that writes them, on the same back end',
          default: 'the judge model',
        },
        {
          flag: 'rewrite-tokens',
          key: 'rewriteTokens',
          kind: 'int',
          arg: 'N',
          help: 'most tokens per rewrite',
          default: String(JUDGE_DEFAULTS.rewriteTokens),
        },
        {
          flag: 'w-accuracy',
          key: 'weights.accuracy',
          kind: 'number',
          arg: 'W',
          help: 'loss weight of accuracy',
          default: String(DEFAULT_WEIGHTS.accuracy),
        },
        {
          flag: 'w-consistency',
          key: 'weights.consistency',
          kind: 'number',
          arg: 'W',
          help: 'loss weight of consistency',
          default: String(DEFAULT_WEIGHTS.consistency),
        },
        {
          flag: 'w-brier',
          key: 'weights.brier',
          kind: 'number',
          arg: 'W',
          help: 'loss weight of the Brier score',
          default: String(DEFAULT_WEIGHTS.brier),
        },
        {
          flag: 'w-cost',
          key: 'weights.cost',
          kind: 'number',
          arg: 'W',
          help: 'loss weight of prompt cost, per 1000 prompt tokens',
          default: String(DEFAULT_WEIGHTS.cost),
        },
      ],
    },
    {
      title: 'Run',
      flags: [
        { flag: 'seed', key: 'seed', kind: 'int', arg: 'N', help: 'seed of every random choice', default: String(JUDGE_DEFAULTS.seed) },
        {
          flag: 'out',
          key: 'out',
          kind: 'string',
          arg: 'DIR',
          help: 'output folder',
          default: 'gpmate-runs/judge-<data>-<selection>-seed<N>',
        },
        { flag: 'quiet', key: 'quiet', kind: 'switch', help: 'no per-generation lines' },
        {
          flag: 'prompt',
          key: 'prompt',
          kind: 'string',
          arg: 'FILE',
          help: 'eval: a prompt JSON (as written by evolve) or a text template with\n{{instruction}}, {{response_a}}, {{response_b}}',
        },
        { flag: 'on', key: 'on', kind: { choices: ['all', 'train', 'test'] }, arg: 'S', help: 'eval: all | train | test', default: 'all' },
      ],
    },
  ],
};

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
}

function common(v: Values): Common {
  const data = need(v, 'data', 'data');
  const seed = int(v, 'seed') ?? JUDGE_DEFAULTS.seed;
  if (seed < 0) throw new ConfigError(`option --seed: expected an integer >= 0, got ${seed}`);
  const maxChars = int(v, 'maxChars');
  if (maxChars !== undefined && maxChars < 1) throw new ConfigError(`option --max-chars: expected an integer >= 1, got ${maxChars}`);
  const limit = int(v, 'limit');
  return {
    items: loadItems(data, str(v, 'format') as DataFormat | undefined, { keepTies: v['keepTies'] === true }),
    dataName: basename(data).replace(/\.[^.]+$/, ''),
    seed,
    trainShare: (v['split'] as number | undefined) ?? 0.5,
    ...(limit !== undefined ? { limit } : {}),
    render: maxChars !== undefined ? { maxChars } : {},
  };
}

/** Opens the back end named by the options (nothing is loaded for the other one). */
export async function openBackend(v: Values, model = need(v, 'model', 'model')): Promise<JudgeBackend> {
  const backend = need(v, 'backend', 'backend');
  if (backend === 'llama') {
    // Checked now, loaded on the first judgement that is not in the cache.
    if (!existsSync(model)) throw new ConfigError(`option --model: GGUF file ${model} not found`);
    const o = stripUndefined({ modelPath: model, contextSize: int(v, 'contextSize'), threads: int(v, 'threads') }) as { modelPath: string };
    return new LazyBackend('llama', basename(model), () => LlamaBackend.open(o));
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
    }) as { baseUrl: string; model: string },
  );
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

/** One line of metrics. */
export function metricsLine(m: JudgeMetrics): string {
  return `accuracy ${pct(m.accuracy)} (AB ${pct(m.accuracyAB)}, BA ${pct(m.accuracyBA)})  consistency ${pct(m.consistency)}  brier ${m.brier.toFixed(4)}  prompt tokens ${m.promptTokens.toFixed(0)}  unreadable ${pct(m.unreadable)}  items ${m.items}`;
}

/** The loss weights given by --w-* flags. */
function givenWeights(v: Values): Partial<LossWeights> {
  const w = (k: string) => v[`weights.${k}`] as number | undefined;
  return stripUndefined({ accuracy: w('accuracy'), consistency: w('consistency'), brier: w('brier'), cost: w('cost') });
}

/** The search options the flags give (the judge options model fills the rest). */
function searchOptions(v: Values, seed: number): JudgeOptions {
  const keys = ['selection', 'distance', 'populationSize', 'generations', 'elites', 'tournamentSize', 'poolSize', 'crossoverRate'];
  const more = ['mutationRate', 'preferenceInheritance', 'minibatch', 'probe', 'maxCriteria', 'maxExamples', 'llmRate', 'rewriteTokens'];
  return {
    ...Object.fromEntries([...keys, ...more].filter((k) => v[k] !== undefined).map((k) => [k, v[k]])),
    seed,
    weights: givenWeights(v),
  };
}

/**
 * Opens the back ends, then the cache, then runs: every flag is checked before the cache (or, through
 * `prepare`, the output folder) is created, so that bad input leaves no file behind.
 */
async function withService<T>(v: Values, cachePath: string, run: (s: JudgeService) => Promise<T>, prepare?: () => void): Promise<T> {
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
    prepare?.();
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
  const settings = resolveJudgeOptions(searchOptions(v, c.seed));
  const out = str(v, 'out') ?? join('gpmate-runs', `judge-${c.dataName}-${settings.selection}-seed${c.seed}`);
  checkOutputDir(out, 'out');
  const cachePath = str(v, 'cache') ?? join(out, 'judge-cache.sqlite');
  const quiet = v['quiet'] === true;
  process.stdout.write(
    `judge evolve: ${c.items.length} items, train ${split.train.length}, test ${split.test.length}; cache ${cachePath}\n`,
  );
  const log: string[] = [];
  const result = await withService(v, cachePath, (service) =>
    evolveJudge(service, split, { ...settings, library: defaultLibrary(), render: c.render }, (s, elite) => {
      log.push(JSON.stringify({ ...s, eliteTrain: elite.metrics }));
      if (!quiet) {
        process.stdout.write(
          `gen ${String(s.generation).padStart(3)}  best ${s.bestFitness.toFixed(4)}  median ${s.medianFitness.toFixed(4)}  elite train loss ${s.eliteTrainLoss.toFixed(4)} acc ${pct(elite.metrics.accuracy)} cons ${pct(elite.metrics.consistency)}  unique ${(s.uniqueShare * 100).toFixed(0)}%  ${service.summary()}\n`,
        );
      }
    }),
  );
  const b = result.best;
  process.stdout.write(
    `\nbest prompt:\n${promptText(b)}\n` +
      `train: loss ${b.loss.toFixed(4)}  ${metricsLine(b.metrics)}\n` +
      `test:  loss ${result.bestTest.loss.toFixed(4)}  ${metricsLine(result.bestTest.metrics)}\n` +
      `baseline test: loss ${result.baseline.testLoss.toFixed(4)}  ${metricsLine(result.baseline.test)}\n`,
  );
  const generatorModel = str(v, 'generatorModel');
  const summary = {
    data: basename(need(v, 'data', 'data')),
    items: { total: c.items.length, train: split.train.length, test: split.test.length },
    seed: c.seed,
    options: {
      ...recordedEvolution(settings),
      distance: settings.distance,
      minibatch: settings.minibatch,
      probe: settings.probe,
      weights: settings.weights,
      llmRate: settings.llmRate,
      ...(generatorModel !== undefined ? { generator: basename(generatorModel) } : {}),
      render: c.render,
    },
    best: { genome: b.genome, train: { loss: b.loss, ...b.metrics }, test: { loss: result.bestTest.loss, ...result.bestTest.metrics } },
    baseline: {
      train: { loss: judgeLoss(result.baseline.train, settings.weights), ...result.baseline.train },
      test: { loss: result.baseline.testLoss, ...result.baseline.test },
    },
    generations: result.generations,
    evaluations: result.evaluations,
  };
  writeFileAtomic(join(out, 'generations.jsonl'), log.join('\n') + '\n');
  writeFileAtomic(join(out, 'best-prompt.txt'), promptText(b));
  writeFileAtomic(join(out, 'best-prompt.json'), JSON.stringify({ ...b.genome, template: b.template }, null, 2) + '\n');
  writeFileAtomic(join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  process.stdout.write(`wrote ${out}/best-prompt.txt, best-prompt.json, summary.json, generations.jsonl\n`);
  return 0;
}

/** Reads a prompt file: JSON (a genome, as evolve writes it) or a text template with the placeholders. */
export function readPrompt(file: string, train: readonly JudgeItem[], render: RenderOptions): PromptTemplate {
  if (!existsSync(file)) throw new ConfigError(`option --prompt: file ${file} not found`);
  const text = readFileSync(file, 'utf8');
  if (/\.json$/i.test(file)) {
    const raw = parseJson(text, `prompt ${file}`);
    return renderTemplate(validateGenome(raw, file), new Map(train.map((it) => [it.id, it])), render);
  }
  return templateFromText(text, file);
}

async function evalCommand(v: Values): Promise<number> {
  const c = common(v);
  const on = (str(v, 'on') ?? 'all') as 'all' | 'train' | 'test';
  const split = splitItems(c.items, c.trainShare, c.seed, c.limit);
  const items = on === 'all' ? [...split.train, ...split.test] : split[on];
  // Few-shot examples refer to training items by id: look them up in the whole file.
  const template = readPrompt(need(v, 'prompt', 'prompt'), c.items, c.render);
  const weights = resolveWeights(givenWeights(v));
  const cachePath = str(v, 'cache') ?? join('gpmate-runs', 'judge-cache.sqlite');
  const out = str(v, 'out');
  if (out !== undefined) checkOutputDir(out, 'out');
  const { metrics } = await withService(v, cachePath, (s) => scoreTemplate(s, template, items, c.render));
  process.stdout.write(`${on} (${items.length} items): loss ${judgeLoss(metrics, weights).toFixed(4)}  ${metricsLine(metrics)}\n`);
  if (out !== undefined) {
    makeDir(out);
    writeFileAtomic(
      join(out, 'eval.json'),
      JSON.stringify({ prompt: basename(str(v, 'prompt') as string), on, loss: judgeLoss(metrics, weights), ...metrics }, null, 2) + '\n',
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
