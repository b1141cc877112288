import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../core/atomic.js';
import { ConfigError, parseJson } from '../core/errors.js';
import { resolveEvolutionOptions, stripUndefined } from '../core/options.js';
import type { PreferenceInheritance, SelectionMode } from '../core/types.js';
import { LazyBackend, type JudgeBackend } from '../judge/backend.js';
import { JudgeCache, JudgeService } from '../judge/cache.js';
import { DATA_FORMATS, loadItems, splitItems, type DataFormat, type JudgeItem, type LoadOptions } from '../judge/data.js';
import { scoreTemplate, judgeLoss, validateWeights, type JudgeMetrics, type LossWeights } from '../judge/fitness.js';
import { validateGenome } from '../judge/genome.js';
import { HttpBackend } from '../judge/http.js';
import { defaultLibrary } from '../judge/library.js';
import { LlamaBackend, llamaKeys } from '../judge/llama.js';
import { resolveJudgeSettings, type JudgeDistance, type JudgeSettings, type RewriteMode } from '../judge/options.js';
import { renderTemplate, templateFromText, type PromptTemplate, type RenderOptions } from '../judge/render.js';
import { evolveJudge, promptText } from '../judge/run.js';
import type { Protocol } from '../judge/verdict.js';
import { parse } from './args.js';

export const JUDGE_HELP = `gpmate judge: evolve LLM-judge prompts (pairwise: is response A or B better?)

Usage:
  gpmate judge evolve --data FILE --backend llama|http --model M [options]
  gpmate judge eval   --prompt FILE --data FILE --backend llama|http --model M [options]

Data:
  --data FILE               LLMBar JSON, PandaLM test JSON, JSONL {instruction, response_a, response_b, label}
                            or preference pairs {prompt, chosen, rejected} (JSONL or a JSON array)
  --format F                llmbar | pandalm | jsonl | pairs (default: from the file)
  --fields K=NAME,...       jsonl/pairs: the file's names (dotted paths) for the layout's fields,
                            e.g. instruction=question,response_a=answer1,label=winner
  --labels A=V,B=V,tie=V    jsonl: the file's label values (default A/B or 1/2, tie or 0)
  --keep-ties               PandaLM/JSONL: keep items labelled as a tie (default: dropped)
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
  --top-logprobs K          http: top_logprobs asked for (default 20; 0: read verdicts from the text)
  --extra-body JSON         http: server options merged into each judgement request, e.g.
                            '{"chat_template_kwargs": {"enable_thinking": false}}'
  --context N               llama: context size (default 4096)
  --threads N               llama: CPU threads (default 1)
  --gpu-layers N            llama: layers offloaded to a GPU (default 0: CPU only)

Judge:
  --protocol P              direct (the letter at once; default) | reasoned (reasoning, then a line
                            "Verdict: A" or "Verdict: B"); <think> blocks are ignored either way
  --max-tokens N            tokens of a judge's answer (default 8 direct, 512 reasoned)
  --min-letter-mass M       share of probability the letters need at the verdict letter for the
                            probabilities to count (default 0.5; else the parsed text, else unreadable)
  --ties                    three-way verdicts (C = tie), scored against tie labels; keeps tie items
  --cache FILE              SQLite cache (default OUT/judge-cache.sqlite; eval: gpmate-runs/judge-cache.sqlite)
  --budget N                most paid requests in this run, retries included (default: no limit); a run
                            that reaches it writes the best prompt so far; rerun to resume from the cache

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
  --rewrite plain|reflective  LLM mutations: plain rewrites (default), or GEPA-style ones that show the
                            generator the items the prompt got wrong or flipped
  --generator-model M       model that writes them, on the same back end (default: the judge model)
  --rewrite-tokens N        most tokens per rewrite (default 60)
  --rewrite-temperature T   sampling temperature of rewrites (default 0; above 0 each rewrite is seeded)
  --reflect-tokens N        token budget of the failures a reflective rewrite shows (default 1000)
  --example-pool N          training items set apart as few-shot examples (default 4 per example,
                            at most a quarter of the training split; never scored)
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
  'extra-body': { type: 'string' },
  context: { type: 'string' },
  threads: { type: 'string' },
  'gpu-layers': { type: 'string' },
  protocol: { type: 'string' },
  'max-tokens': { type: 'string' },
  'min-letter-mass': { type: 'string' },
  ties: { type: 'boolean' },
  fields: { type: 'string' },
  labels: { type: 'string' },
  rewrite: { type: 'string' },
  'rewrite-temperature': { type: 'string' },
  'reflect-tokens': { type: 'string' },
  'example-pool': { type: 'string' },
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
  // judge layer
  protocol: 'protocol',
  maxTokens: 'max-tokens',
  minLetterMass: 'min-letter-mass',
  baseUrl: 'base-url',
  model: 'model',
  modelPath: 'model',
  apiKeyEnv: 'api-key-env',
  concurrency: 'concurrency',
  timeoutMs: 'timeout',
  retries: 'retries',
  topLogprobs: 'top-logprobs',
  extraBody: 'extra-body',
  contextSize: 'context',
  threads: 'threads',
  gpuLayers: 'gpu-layers',
  budget: 'budget',
  cache: 'cache',
  format: 'format',
  fields: 'fields',
  labels: 'labels',
  distance: 'distance',
  minibatch: 'minibatch',
  probe: 'probe',
  llmRate: 'llm-rate',
  rewrite: 'rewrite',
  rewriteTokens: 'rewrite-tokens',
  rewriteTemperature: 'rewrite-temperature',
  reflectTokens: 'reflect-tokens',
  examplePool: 'example-pool',
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
  readonly judge: JudgeSettings;
}

/** `K=V,K=V` as an object (for --fields and --labels). */
function keyValues(flag: string, v: string | undefined): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const part of parse.list(v) ?? []) {
    const m = /^([^=]+)=(.+)$/.exec(part);
    if (!m) throw new ConfigError(`option --${flag}: expected KEY=VALUE pairs separated by commas, got "${part}"`);
    out[(m[1] as string).trim()] = (m[2] as string).trim();
  }
  return out;
}

function judgeSettingsOf(v: Values): JudgeSettings {
  return resolveJudgeSettings(
    stripUndefined({
      protocol: v.protocol as Protocol | undefined,
      maxTokens: parse.int('max-tokens', v['max-tokens']),
      minLetterMass: parse.num('min-letter-mass', v['min-letter-mass']),
      ties: v.ties,
    }),
  );
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
  const judge = judgeSettingsOf(v);
  const load: LoadOptions = stripUndefined({
    keepTies: (v['keep-ties'] ?? false) || judge.ties,
    fields: keyValues('fields', v.fields),
    labels: keyValues('labels', v.labels),
    seed,
  });
  return {
    items: loadItems(data, v.format as DataFormat | undefined, load),
    dataName: basename(data).replace(/\.[^.]+$/, ''),
    seed,
    trainShare: parse.num('split', v.split) ?? 0.5,
    ...(limit !== undefined ? { limit } : {}),
    render: {
      ...(maxChars !== undefined ? { maxChars } : {}),
      ...(judge.protocol !== 'direct' ? { protocol: judge.protocol } : {}),
      ...(judge.ties ? { ties: true } : {}),
    },
    judge,
  };
}

function extraBody(v: Values): Record<string, unknown> | undefined {
  const raw = v['extra-body'];
  if (raw === undefined) return undefined;
  let o: unknown;
  try {
    o = JSON.parse(raw);
  } catch (e) {
    throw new ConfigError(`option --extra-body: not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new ConfigError('option --extra-body: expected a JSON object');
  return o as Record<string, unknown>;
}

/** Opens the back end named by the options (nothing is loaded for the other one). */
export async function openBackend(
  v: Values,
  model = need(v.model, 'model'),
  judge: JudgeSettings = judgeSettingsOf(v),
): Promise<JudgeBackend> {
  const backend = need(v.backend, 'backend');
  if (backend === 'llama') {
    // Checked and hashed now, loaded on the first judgement that is not in the cache.
    const o = stripUndefined({
      modelPath: model,
      contextSize: parse.int('context', v.context),
      threads: parse.int('threads', v.threads),
      gpuLayers: parse.int('gpu-layers', v['gpu-layers']),
      judge,
    }) as { modelPath: string };
    const k = llamaKeys(o);
    return new LazyBackend(k.id, k.model, k.judgeKey, k.generateKey, () => LlamaBackend.open(o));
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
        extraBody: extraBody(v),
        judge,
      }) as { baseUrl: string; model: string },
    );
  }
  throw new ConfigError(`option --backend: expected llama or http, got "${backend}"`);
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
      examplePool: parse.int('example-pool', v['example-pool']),
      llmRate: parse.num('llm-rate', v['llm-rate']),
      rewrite: v.rewrite as RewriteMode | undefined,
      rewriteTokens: parse.int('rewrite-tokens', v['rewrite-tokens']),
      rewriteTemperature: parse.num('rewrite-temperature', v['rewrite-temperature']),
      reflectTokens: parse.int('reflect-tokens', v['reflect-tokens']),
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
  if (result.stopped)
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
  const summary = {
    data: basename(need(v.data, 'data')),
    items: { total: c.items.length, train: split.train.length, test: split.test.length, examplePool: result.examplePool },
    seed: c.seed,
    options: {
      ...resolved,
      distance: options.distance ?? 'behavioural',
      minibatch: options.minibatch ?? 16,
      probe: options.probe ?? 8,
      weights,
      judge: c.judge,
      llmRate: options.llmRate ?? 0,
      ...(options.llmRate ? { rewrite: options.rewrite ?? 'plain', rewriteTemperature: options.rewriteTemperature ?? 0 } : {}),
      ...(v['generator-model'] !== undefined ? { generator: basename(v['generator-model']) } : {}),
      render: c.render,
    },
    ...(result.stopped ? { stopped: result.stopped } : {}),
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
  const on = v.on ?? 'all';
  if (on !== 'all' && on !== 'train' && on !== 'test') throw new ConfigError(`option --on: expected all, train or test, got "${on}"`);
  const split = splitItems(c.items, c.trainShare, c.seed, c.limit);
  const items = on === 'all' ? [...split.train, ...split.test] : split[on];
  const template = readPrompt(need(v.prompt, 'prompt'), c.items, c.render);
  const weights = weightsOf(v);
  const cachePath = v.cache ?? join('gpmate-runs', 'judge-cache.sqlite');
  const { metrics } = await withService(v, cachePath, (s) => scoreTemplate(s, template, items, c.render));
  const loss = judgeLoss(metrics, weights);
  process.stdout.write(
    `${on} (${items.length} items): loss ${loss.toFixed(4)}  ${metricsLine(metrics)}\nlength bias: ${lengthBiasLine(metrics)}\n`,
  );
  if (v.out !== undefined) {
    mkdirSync(v.out, { recursive: true });
    writeFileAtomic(
      join(v.out, 'eval.json'),
      JSON.stringify({ prompt: basename(v.prompt as string), on, judge: c.judge, loss, ...metrics }, null, 2) + '\n',
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
