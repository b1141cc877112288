import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calls, gpmate, inProcess } from './judge-cli-helpers.js';
import { LlamaBackend } from '../src/judge/llama.js';
import { close, listen, LLMBAR, modelServer, PANDALM, TINY_MODEL, tmp } from './judge-helpers.js';

// Small enough for the suite (the tiny model is fast), large enough to exercise every part.
const DATA = ['--data', LLMBAR, '--limit', '6', '--max-chars', '80', '--seed', '3'];
// The tiny model's letters carry almost no mass: a threshold of 0 reads its probabilities at the first
// answer token (without it every verdict is unreadable, after decoding the full answer).
const BACKEND = ['--backend', 'llama', '--model', TINY_MODEL, '--min-letter-mass', '0'];
const SEARCH = [
  '--population',
  '4',
  '--generations',
  '1',
  '--minibatch',
  '2',
  '--probe',
  '2',
  '--tournament',
  '2',
  '--max-examples',
  '1',
  '--quiet',
];
// Smaller still, for the runs that only check stopping, resuming and the other selection modes.
const SMALL = [
  '--data',
  LLMBAR,
  '--limit',
  '4',
  '--max-chars',
  '60',
  '--seed',
  '4',
  '--population',
  '2',
  '--generations',
  '1',
  '--minibatch',
  '1',
  '--probe',
  '1',
  '--tournament',
  '1',
  '--max-examples',
  '0',
  '--quiet',
];

describe('gpmate judge (end to end, in-process back end on LLMBar Natural)', () => {
  const dir = tmp();
  // Holds the shared llama.cpp runtime open between the in-process commands.
  let keep: LlamaBackend;
  beforeAll(async () => {
    keep = await LlamaBackend.open({ modelPath: TINY_MODEL });
  });
  afterAll(() => keep.close());
  const cache = join(dir, 'cache.sqlite');
  const run1 = join(dir, 'run1');

  it('evolves a prompt, reports train/test against the baseline, writes the prompt as text and JSON, and resumes from the cache', async () => {
    const r = gpmate(['evolve', ...DATA, ...BACKEND, ...SEARCH, '--cache', cache, '--out', run1]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/train 3, test 3/);
    expect(r.stdout).toMatch(/best prompt:\n[\s\S]*\{\{response_b\}\}/);
    expect(r.stdout).toMatch(
      /^train: loss [\d.]+ {2}accuracy [\d.]+% \(AB [\d.]+%, BA [\d.]+%\) {2}consistency [\d.]+% {2}brier [\d.]+ {2}prompt tokens \d+/m,
    );
    expect(r.stdout).toMatch(/^test: {2}loss /m);
    expect(r.stdout).toMatch(/^baseline test: loss /m);
    const paid = calls(r.stdout);
    expect(paid).toBeGreaterThan(10);
    expect(readdirSync(run1).sort()).toEqual(['best-prompt.json', 'best-prompt.txt', 'generations.jsonl', 'summary.json']);
    const summary = JSON.parse(readFileSync(join(run1, 'summary.json'), 'utf8'));
    expect(summary.options.selection).toBe('pimp');
    expect(summary.options.distance).toBe('behavioural');
    expect(summary.items).toEqual({ total: 100, train: 3, test: 3, examplePool: 0 });
    expect(summary.options.judge).toEqual({ protocol: 'direct', ties: false, minLetterMass: 0, maxTokens: 8 });
    for (const part of [summary.best.train, summary.best.test, summary.baseline.test]) {
      for (const k of ['loss', 'accuracy', 'consistency', 'brier', 'promptTokens']) expect(part[k]).toBeTypeOf('number');
      expect(part.accuracy).toBeGreaterThanOrEqual(0);
      expect(part.accuracy).toBeLessThanOrEqual(1);
    }
    const best = JSON.parse(readFileSync(join(run1, 'best-prompt.json'), 'utf8'));
    expect(best.template.user).toContain('{{instruction}}');
    expect(readFileSync(join(run1, 'best-prompt.txt'), 'utf8')).toContain(best.role);
    const gens = readFileSync(join(run1, 'generations.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(gens.map((g) => g.generation)).toEqual([0, 1]);
    expect(gens[0].preference).toBeDefined();

    // The same command again: every judgement from the cache, byte-identical results.
    const run2 = join(dir, 'run2');
    const again = await inProcess(['evolve', ...DATA, ...BACKEND, ...SEARCH, '--cache', cache, '--out', run2]);
    expect(again.status).toBe(0);
    expect(calls(again.stdout)).toBe(0);
    for (const f of ['summary.json', 'generations.jsonl', 'best-prompt.txt', 'best-prompt.json'])
      expect(readFileSync(join(run2, f))).toEqual(readFileSync(join(run1, f)));
  }, 180_000);

  it('stops at the budget of paid requests with the best prompt so far, and the rerun resumes without repeating a request', async () => {
    const whole = join(dir, 'whole');
    const r = await inProcess(['evolve', ...SMALL, ...BACKEND, '--cache', join(dir, 'whole.sqlite'), '--out', whole]);
    expect(r.status).toBe(0);
    const paid = calls(r.stdout);
    const cache2 = join(dir, 'cache2.sqlite');
    const run3 = join(dir, 'run3');
    const stopped = await inProcess(['evolve', ...SMALL, ...BACKEND, '--cache', cache2, '--out', run3, '--budget', '5']);
    expect(stopped.status).toBe(0);
    expect(stopped.stdout).toMatch(/^stopped by --budget: wrote the best prompt found so far/m);
    expect(calls(stopped.stdout)).toBe(5);
    // generation 0 was scored: its best prompt is written, without test scores (they would need more requests)
    expect(JSON.parse(readFileSync(join(run3, 'summary.json'), 'utf8'))).toMatchObject({
      stoppedBy: 'budget',
      best: { test: null },
      baseline: null,
    });
    expect(existsSync(join(run3, 'best-prompt.json'))).toBe(true);
    const resumed = await inProcess(['evolve', ...SMALL, ...BACKEND, '--cache', cache2, '--out', run3]);
    expect(resumed.status).toBe(0);
    expect(calls(resumed.stdout)).toBe(paid - 5);
    expect(readFileSync(join(run3, 'summary.json'))).toEqual(readFileSync(join(whole, 'summary.json')));
  }, 240_000);

  it('scores a given prompt file (JSON or text) with judge eval', async () => {
    const summary = JSON.parse(readFileSync(join(run1, 'summary.json'), 'utf8'));
    const r = await inProcess([
      'eval',
      '--prompt',
      join(run1, 'best-prompt.json'),
      '--on',
      'test',
      ...DATA,
      ...BACKEND,
      '--cache',
      cache,
      '--out',
      join(dir, 'eval'),
    ]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(calls(r.stdout)).toBe(0); // judged during evolve: all from the cache
    const e = JSON.parse(readFileSync(join(dir, 'eval', 'eval.json'), 'utf8'));
    expect(e.accuracy).toBe(summary.best.test.accuracy);
    expect(e.brier).toBe(summary.best.test.brier);
    const txt = join(dir, 'plain.txt');
    writeFileSync(txt, 'Instruction: {{instruction}}\nA: {{response_a}}\nB: {{response_b}}\nBetter (A or B)?');
    const t = await inProcess(['eval', '--prompt', txt, ...DATA, '--limit', '3', ...BACKEND, '--cache', cache]);
    expect(t.status).toBe(0);
    expect(t.stdout).toMatch(/^all \(3 items\): loss [\d.]+ {2}accuracy/m);
    expect(calls(t.stdout)).toBe(6);
  }, 120_000);

  it('runs the tournament and random-mate baselines under the same machinery', async () => {
    for (const selection of ['tournament', 'random-mate']) {
      const out = join(dir, selection);
      const r = await inProcess([
        'evolve',
        ...SMALL,
        ...BACKEND,
        '--selection',
        selection,
        '--cache',
        join(dir, 'whole.sqlite'),
        '--out',
        out,
      ]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
      expect(s.options.selection).toBe(selection);
    }
  }, 240_000);

  it('rewrites sections with a generator model (LLM-driven variation) and caches the rewrites', async () => {
    const args = [
      'evolve',
      ...SMALL,
      ...BACKEND,
      '--generations',
      '2',
      '--llm-rate',
      '1',
      '--rewrite-tokens',
      '4',
      '--generator-model',
      TINY_MODEL,
      '--cache',
      join(dir, 'llm.sqlite'),
    ];
    const r = await inProcess([...args, '--out', join(dir, 'llm1')]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(Number(/completion tokens (\d+)\n/.exec(r.stdout)?.[1])).toBeGreaterThan(0);
    const s = JSON.parse(readFileSync(join(dir, 'llm1', 'summary.json'), 'utf8'));
    expect(s.options.llmRate).toBe(1);
    expect(s.options.generator).toBe('llama-2-tiny-random.gguf');
    const again = await inProcess([...args, '--out', join(dir, 'llm2')]);
    expect(calls(again.stdout)).toBe(0);
    expect(readFileSync(join(dir, 'llm2', 'summary.json'))).toEqual(readFileSync(join(dir, 'llm1', 'summary.json')));
  }, 120_000);

  it('evolves through the HTTP back end against a loopback server, with the key from the environment', async () => {
    const srv = await modelServer(keep, 'tiny');
    try {
      process.env['GPMATE_CLI_TEST_KEY'] = 'sk-cli-secret';
      const args = [
        'evolve',
        ...SMALL,
        '--selection',
        'tournament',
        '--backend',
        'http',
        '--base-url',
        srv.url,
        '--model',
        'tiny',
        '--api-key-env',
        'GPMATE_CLI_TEST_KEY',
        '--concurrency',
        '2',
      ];
      const r = await inProcess([...args, '--cache', join(dir, 'http.sqlite'), '--out', join(dir, 'http')]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(calls(r.stdout)).toBeGreaterThan(0);
      expect(srv.requests.every((q) => q.auth === 'Bearer sk-cli-secret')).toBe(true);
      for (const f of ['summary.json', 'generations.jsonl', 'best-prompt.json', 'best-prompt.txt'])
        expect(readFileSync(join(dir, 'http', f), 'utf8')).not.toContain('sk-cli-secret');
      expect(r.stdout).not.toContain('sk-cli-secret');
      const wrong = await inProcess([
        ...args.map((a) => (a === 'tiny' ? 'huge' : a)),
        '--cache',
        join(dir, 'http.sqlite'),
        '--out',
        join(dir, 'http2'),
      ]);
      expect(wrong.status).toBe(2);
      expect(wrong.stderr).toMatch(/option --model: "huge" is not served by/);
    } finally {
      await close(srv.server);
    }
  }, 120_000);

  it('rejects bad input with one line and exit code 2', async () => {
    const dead = await listen(() => {});
    const deadUrl = dead.url;
    await close(dead.server);
    const cases: [string[], RegExp][] = [
      [['evolve', '--data', PANDALM, '--format', 'llmbar', ...BACKEND], /testset-v1\.json: item 0: label must be 1 or 2/],
      [['evolve', '--data', LLMBAR, '--format', 'csv', ...BACKEND], /option --format: expected one of llmbar, pandalm, jsonl/],
      [['evolve', '--data', LLMBAR, '--model', TINY_MODEL], /option --backend: required/],
      [['evolve', '--data', LLMBAR, '--backend', 'llama', '--model', '/nope.gguf'], /option --model: GGUF file \/nope\.gguf not found/],
      [['evolve', '--data', LLMBAR, '--backend', 'llama', '--model', dir], /option --model: cannot load .* \(not a file\)/],
      [
        ['evolve', '--data', LLMBAR, '--backend', 'llama', '--model', LLMBAR],
        /option --model: cannot load .*natural\.json \(not a GGUF file/,
      ],
      [
        [
          'evolve',
          '--data',
          LLMBAR,
          '--backend',
          'http',
          '--base-url',
          'http://127.0.0.1:9/v1',
          '--model',
          'm',
          '--api-key-env',
          'GPMATE_UNSET_KEY_VAR',
        ],
        /environment variable GPMATE_UNSET_KEY_VAR .*not set/,
      ],
      [['evolve', '--data', LLMBAR, ...BACKEND, '--population', '1'], /option --population: expected an integer in 2\.\.1000000/],
      [['evolve', '--data', LLMBAR, ...BACKEND, '--w-brier=-1'], /option --w-brier: expected a number >= 0/],
      [['eval', '--data', LLMBAR, ...BACKEND], /option --prompt: required/],
      [['frobnicate'], /unknown judge command "frobnicate"/],
    ];
    for (const [k, [args, re]] of cases.entries()) {
      // the first through the real command line (main.ts sets the exit code), the rest in this process
      const full = [...args, '--out', join(dir, 'bad'), '--cache', join(dir, 'bad.sqlite')];
      const r = k === 0 ? gpmate(full) : await inProcess(full);
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.status, args.join(' ')).toBe(2);
    }
    expect(existsSync(join(dir, 'bad', 'summary.json'))).toBe(false);
    expect(existsSync(join(dir, 'bad.sqlite'))).toBe(false);
    const unreachable = gpmate([
      'evolve',
      '--data',
      LLMBAR,
      '--backend',
      'http',
      '--base-url',
      deadUrl,
      '--model',
      'm',
      '--retries',
      '0',
      '--out',
      join(dir, 'bad'),
      '--cache',
      join(dir, 'bad.sqlite'),
    ]);
    expect(unreachable.stderr).toMatch(
      /^gpmate: back end http:\/\/127\.0\.0\.1:\d+\/v1: unreachable \(ECONNREFUSED\) \(gave up after 1 attempt\)\n$/,
    );
    expect(unreachable.status).not.toBe(0);
  }, 120_000);
});
