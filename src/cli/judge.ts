import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../core/atomic.js';
import { ConfigError, parseJson } from '../core/errors.js';
import { resolveEvolutionOptions, stripUndefined } from '../core/options.js';
import type { PreferenceInheritance, SelectionMode } from '../core/types.js';
import { LazyBackend, type JudgeBackend } from '../judge/backend.js';
import { JudgeCache, JudgeService } from '../judge/cache.js';
import { DATA_FORMATS, loadItems, splitItems, type DataFormat, type JudgeItem } from '../judge/data.js';
import { scoreTemplate, judgeLoss, validateWeights, type JudgeMetrics, type LossWeights } from '../judge/fitness.js';
import { validateGenome } from '../judge/genome.js';
import { HttpBackend } from '../judge/http.js';
import { defaultLibrary } from '../judge/library.js';
import { LlamaBackend } from '../judge/llama.js';
import { renderTemplate, templateFromText, type PromptTemplate, type RenderOptions } from '../judge/render.js';
import { evolveJudge, promptText, type JudgeDistance } from '../judge/run.js';
import { parse } from './args.js';

export const JUDGE_HELP = `gpmate judge: evolve LLM-judge prompts (pairwise: is response A or B better?)

Usage:
  gpmate judge evolve --data FILE --backend llama|http --model M [options]
  gpmate judge eval   --prompt FILE --data FILE --backend llama|http --model M [options]

Data:
  --data FILE               LLMBar JSON, PandaLM test JSON or JSONL {instruction, response_a, response_b, label}
  --format F                llmbar | pandalm | jsonl (default: from the file name)
  --keep-ties               PandaLM: keep items whose annotator majority is a tie (default: dropped)
  --split P                 share of items for training, rest held out for test (default 0.5)
  --limit N                 use N items (after the seeded shuffle; default all)
  --max-chars N             longest response shown to the judge (default 2000)

Back end:
  --backend B               llama (in-process GGUF via node-llama-cpp) | http (OpenAI-compatible)
  --model M                 llama: path of a .gguf file; http: the model name
  --base-url URL            http: e.g. http://127.0.0.1:8080/v1
  --api-key-env VAR         http: environment variable holding the API key (never logged)
  --concurrency N           http: requests in flight (default 4)
  --timeout MS              http: per request (default 60000)
  --retries N               http: retries on 429/5xx/timeouts (default 4)
  --top-logprobs K          http: top_logprobs asked for (default 20)
  --context N               llama: context size (default 4096)
  --threads N               llama: CPU threads (default 1)
  --cache FILE              SQLite cache (default OUT/judge-cache.sqlite; eval: gpmate-runs/judge-cache.sqlite)
  --budget N                most paid calls in this run (default: no limit); rerun to resume from the cache

Search (evolve):
  --selection MODE          pimp (default) | tournament | random-mate
  --distance D              pimp distance: behavioural (default) | structural
  --population N (default 12)   --generations G (default 5)   --elites E (default 1)
  --tournament K (default 3)    --pool M (default: tournament size)
  --crossover-rate P (0.9)      --mutation-rate P (0.5)       --preference-inheritance crossover|chooser
  --minibatch N             training items scored per generation (default 16)
  --probe N                 probe items of the behavioural distance (default 8)
  --max-criteria N (6)      --max-examples N (2)
  --llm-rate P              share of variations that are LLM rewrites (EvoPrompt-style; default 0)
  --generator-model M       model that writes them, on the same back end (default: the judge model)
  --rewrite-tokens N        most tokens per rewrite (default 60)
  --w-accuracy W (1)  --w-consistency W (0.5)  --w-brier W (1)  --w-cost W (0; per 1000 prompt tokens)

Run:
  --seed N (default 1)  --out DIR  --quiet
  --prompt FILE             eval: a prompt JSON (as written by evolve) or a text template with
                            {{instruction}}, {{response_a}}, {{response_b}}
  --on S                    eval: all (default) | train | test
`;

const OPTIONS = {
  data: { type: 'string' },
  format: { type: 'string' },
  'keep-ties': { type: 'boolean' },
  split: { type: 'string' },
  limit: { type: 'string' },
  'max-chars': { type: 'string' },
  backend: { type: 'string' },
  model: { type: 'string' },
  'base-url': { type: 'string' },
  'api-key-env': { type: 'string' },
  concurrency: { type: 'string' },
  timeout: { type: 'string' },
  retries: { type: 'string' },
  'top-logprobs': { type: 'string' },
  context: { type: 'string' },
  threads: { type: 'string' },
  cache: { type: 'string' },
  budget: { type: 'string' },
  selection: { type: 'string' },
  distance: { type: 'string' },
  population: { type: 'string' },
  generations: { type: 'string' },
  elites: { type: 'string' },
  tournament: { type: 'string' },
  pool: { type: 'string' },
  'crossover-rate': { type: 'string' },
  'mutation-rate': { type: 'string' },
  'preference-inheritance': { type: 'string' },
  minibatch: { type: 'string' },
  probe: { type: 'string' },
  'max-criteria': { type: 'string' },
  'max-examples': { type: 'string' },
  'llm-rate': { type: 'string' },
  'generator-model': { type: 'string' },
  'rewrite-tokens': { type: 'string' },
  'w-accuracy': { type: 'string' },
  'w-consistency': { type: 'string' },
  'w-brier': { type: 'string' },
  'w-cost': { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  quiet: { type: 'boolean' },
  prompt: { type: 'string' },
  on: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; strict: true }>>['values'];

const FLAG_OF: Record<string, string> = {
  populationSize: 'population',
  generations: 'generations',
  tournamentSize: 'tournament',
  poolSize: 'pool',
  crossoverRate: 'crossover-rate',
  mutationRate: 'mutation-rate',
  elites: 'elites',
  selection: 'selection',
  preferenceInheritance: 'preference-inheritance',
  maxCriteria: 'max-criteria',
  maxExamples: 'max-examples',
};

function asFlagError(e: unknown): unknown {
  if (!(e instanceof ConfigError)) return e;
  const m = /^option ([A-Za-z]+):/.exec(e.message);
  const flag = m ? FLAG_OF[m[1] as string] : undefined;
  return flag ? new ConfigError(e.message.replace(/^option [A-Za-z]+/, `option --${flag}`)) : e;
}

function need(v: string | undefined, flag: string): string {
  if (v === undefined || v === '') throw new ConfigError(`option --${flag}: required`);
  return v;
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
  const data = need(v.data, 'data');
  if (v.format !== undefined && !(DATA_FORMATS as readonly string[]).includes(v.format))
    throw new ConfigError(`option --format: expected one of ${DATA_FORMATS.join(', ')}, got "${v.format}"`);
  const seed = parse.int('seed', v.seed) ?? 1;
  if (seed < 0) throw new ConfigError(`option --seed: expected an integer >= 0, got ${seed}`);
  const maxChars = parse.int('max-chars', v['max-chars']);
  if (maxChars !== undefined && maxChars < 1) throw new ConfigError(`option --max-chars: expected an integer >= 1, got ${maxChars}`);
  const limit = parse.int('limit', v.limit);
  return {
    items: loadItems(data, v.format as DataFormat | undefined, { keepTies: v['keep-ties'] ?? false }),
    dataName: basename(data).replace(/\.[^.]+$/, ''),
    seed,
    trainShare: parse.num('split', v.split) ?? 0.5,
    ...(limit !== undefined ? { limit } : {}),
    render: maxChars !== undefined ? { maxChars } : {},
  };
}

/** Opens the back end named by the options (nothing is loaded for the other one). */
export async function openBackend(v: Values, model = need(v.model, 'model')): Promise<JudgeBackend> {
  const backend = need(v.backend, 'backend');
  if (backend === 'llama') {
    // Checked now, loaded on the first judgement that is not in the cache.
    if (!existsSync(model)) throw new ConfigError(`option --model: GGUF file ${model} not found`);
    const o = stripUndefined({
      modelPath: model,
      contextSize: parse.int('context', v.context),
      threads: parse.int('threads', v.threads),
    }) as { modelPath: string };
    return new LazyBackend('llama', basename(model), () => LlamaBackend.open(o));
  }
  if (backend === 'http') {
    return HttpBackend.open(
      stripUndefined({
        baseUrl: need(v['base-url'], 'base-url'),
        model,
        apiKeyEnv: v['api-key-env'],
        concurrency: parse.int('concurrency', v.concurrency),
        timeoutMs: parse.int('timeout', v.timeout),
        retries: parse.int('retries', v.retries),
        topLogprobs: parse.int('top-logprobs', v['top-logprobs']),
      }) as { baseUrl: string; model: string },
    );
  }
  throw new ConfigError(`option --backend: expected llama or http, got "${backend}"`);
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

/** One line of metrics. */
export function metricsLine(m: JudgeMetrics): string {
  return `accuracy ${pct(m.accuracy)} (AB ${pct(m.accuracyAB)}, BA ${pct(m.accuracyBA)})  consistency ${pct(m.consistency)}  brier ${m.brier.toFixed(4)}  prompt tokens ${m.promptTokens.toFixed(0)}  unreadable ${pct(m.unreadable)}  items ${m.items}`;
}

function weightsOf(v: Values): LossWeights {
  return validateWeights(
    stripUndefined({
      accuracy: parse.num('w-accuracy', v['w-accuracy']),
      consistency: parse.num('w-consistency', v['w-consistency']),
      brier: parse.num('w-brier', v['w-brier']),
      cost: parse.num('w-cost', v['w-cost']),
    }),
  );
}

async function withService<T>(v: Values, cachePath: string, run: (s: JudgeService) => Promise<T>): Promise<T> {
  const budget = parse.int('budget', v.budget);
  const cache = new JudgeCache(cachePath);
  let backend: JudgeBackend | undefined;
  let generator: JudgeBackend | undefined;
  let service: JudgeService | undefined;
  try {
    backend = await openBackend(v);
    if (v['generator-model'] !== undefined) generator = await openBackend(v, v['generator-model']);
    service = new JudgeService(backend, cache, budget, generator);
    return await run(service);
  } finally {
    await service?.settle();
    if (service) process.stdout.write(`${service.summary()}\n`);
    await generator?.close();
    await backend?.close();
    cache.close();
  }
}

async function evolveCommand(v: Values): Promise<number> {
  const c = common(v);
  const split = splitItems(c.items, c.trainShare, c.seed, c.limit);
  const library = defaultLibrary();
  const selection = (v.selection ?? 'pimp') as SelectionMode;
  const evo = stripUndefined({
    selection,
    populationSize: parse.int('population', v.population) ?? 12,
    generations: parse.int('generations', v.generations) ?? 5,
    elites: parse.int('elites', v.elites),
    tournamentSize: parse.int('tournament', v.tournament) ?? 3,
    poolSize: parse.int('pool', v.pool),
    crossoverRate: parse.num('crossover-rate', v['crossover-rate']),
    mutationRate: parse.num('mutation-rate', v['mutation-rate']) ?? 0.5,
    preferenceInheritance: v['preference-inheritance'] as PreferenceInheritance | undefined,
  });
  const resolved = resolveEvolutionOptions(evo);
  const weights = weightsOf(v);
  const options = {
    ...evo,
    seed: c.seed,
    library,
    weights,
    render: c.render,
    ...stripUndefined({
      distance: v.distance as JudgeDistance | undefined,
      minibatch: parse.int('minibatch', v.minibatch),
      probe: parse.int('probe', v.probe),
      maxCriteria: parse.int('max-criteria', v['max-criteria']),
      maxExamples: parse.int('max-examples', v['max-examples']),
      llmRate: parse.num('llm-rate', v['llm-rate']),
      rewriteTokens: parse.int('rewrite-tokens', v['rewrite-tokens']),
    }),
  };
  const out = v.out ?? join('gpmate-runs', `judge-${c.dataName}-${resolved.selection}-seed${c.seed}`);
  mkdirSync(out, { recursive: true });
  const cachePath = v.cache ?? join(out, 'judge-cache.sqlite');
  const quiet = v.quiet ?? false;
  process.stdout.write(
    `judge evolve: ${c.items.length} items, train ${split.train.length}, test ${split.test.length}; cache ${cachePath}\n`,
  );
  const log: string[] = [];
  const result = await withService(v, cachePath, (service) =>
    evolveJudge(service, split, options, (s, elite) => {
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
  const summary = {
    data: basename(need(v.data, 'data')),
    items: { total: c.items.length, train: split.train.length, test: split.test.length },
    seed: c.seed,
    options: {
      ...resolved,
      distance: options.distance ?? 'behavioural',
      minibatch: options.minibatch ?? 16,
      probe: options.probe ?? 8,
      weights,
      llmRate: options.llmRate ?? 0,
      ...(v['generator-model'] !== undefined ? { generator: basename(v['generator-model']) } : {}),
      render: c.render,
    },
    best: { genome: b.genome, train: { loss: b.loss, ...b.metrics }, test: { loss: result.bestTest.loss, ...result.bestTest.metrics } },
    baseline: {
      train: { loss: judgeLoss(result.baseline.train, weights), ...result.baseline.train },
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
  const on = v.on ?? 'all';
  if (on !== 'all' && on !== 'train' && on !== 'test') throw new ConfigError(`option --on: expected all, train or test, got "${on}"`);
  const split = splitItems(c.items, c.trainShare, c.seed, c.limit);
  const items = on === 'all' ? [...split.train, ...split.test] : split[on];
  // Few-shot examples refer to training items by id: look them up in the whole file.
  const template = readPrompt(need(v.prompt, 'prompt'), c.items, c.render);
  const weights = weightsOf(v);
  const cachePath = v.cache ?? join('gpmate-runs', 'judge-cache.sqlite');
  const { metrics } = await withService(v, cachePath, (s) => scoreTemplate(s, template, items, c.render));
  process.stdout.write(`${on} (${items.length} items): loss ${judgeLoss(metrics, weights).toFixed(4)}  ${metricsLine(metrics)}\n`);
  if (v.out !== undefined) {
    mkdirSync(v.out, { recursive: true });
    writeFileAtomic(
      join(v.out, 'eval.json'),
      JSON.stringify({ prompt: basename(v.prompt as string), on, loss: judgeLoss(metrics, weights), ...metrics }, null, 2) + '\n',
    );
  }
  return 0;
}

/** `gpmate judge evolve | eval`. */
export async function judgeCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    const { values: v } = parseArgs({ args: rest, options: OPTIONS, strict: true, allowPositionals: false });
    if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h' || v.help) {
      process.stdout.write(JUDGE_HELP);
      return 0;
    }
    if (sub === 'evolve') return await evolveCommand(v);
    if (sub === 'eval') return await evalCommand(v);
    throw new ConfigError(`unknown judge command "${sub}" (expected evolve or eval)`);
  } catch (e) {
    throw asFlagError(e);
  }
}
