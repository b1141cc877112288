// The front door under fuzzing: generated CSV files, option vectors, study files and model files go through
// the real command handlers (in a worker thread of this process, one case at a time, no child process per
// case). Each case must either finish, or fail with an input error (exit code 2 in main.ts) in one line
// that names the input and leave no file behind; never hang (each case is time-boxed and the worker is
// terminated when one overruns), never throw anything else. `npm run fuzz` runs thousands of cases
// (GPMATE_FUZZ_CASES, default 5000; GPMATE_FUZZ_SEED, the first case's seed) and prints how many it ran.
import { readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { frontDoorCase, type FrontDoorCase } from './front-door-cases.js';

const CASES = Number(process.env['GPMATE_FUZZ_CASES'] ?? 300);
const FIRST_SEED = Number(process.env['GPMATE_FUZZ_SEED'] ?? 1);
/** Seconds a case may take: a valid case is a tiny run; far above that is a hang. */
const CASE_SECONDS = Number(process.env['GPMATE_FUZZ_CASE_SECONDS'] ?? 30);

interface Outcome {
  readonly status: 'finished' | 'error' | 'timeout';
  readonly code?: number;
  readonly name?: string;
  readonly message?: string;
  readonly stack?: string;
  /** The case's folder, which `@DIR@` in its arguments stands for. */
  readonly dir?: string;
  readonly before?: readonly string[];
  readonly after?: readonly string[];
  readonly ms?: number;
}

/** Runs cases one at a time in a worker; a case that overruns terminates the worker (a fresh one takes the next). */
class CaseRunner {
  private worker?: Worker;
  private readonly url = new URL('./fixtures/front-door-worker.mjs', import.meta.url);

  async run(c: FrontDoorCase): Promise<Outcome> {
    const w = (this.worker ??= new Worker(this.url));
    return new Promise<Outcome>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        this.worker = undefined;
        void w.terminate();
        resolve({ status: 'timeout' });
      }, CASE_SECONDS * 1000);
      const onMessage = (o: Outcome) => {
        off();
        resolve(o);
      };
      const onError = (e: Error) => {
        off();
        this.worker = undefined;
        reject(e);
      };
      const off = () => {
        clearTimeout(timer);
        w.off('message', onMessage);
        w.off('error', onError);
      };
      w.on('message', onMessage);
      w.on('error', onError);
      w.postMessage(c);
    });
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
  }
}

/** Names main.ts treats as bad input (exit code 2). */
const INPUT_ERRORS = ['ConfigError', 'DataError'];

/** What a case's error message must name: a flag it gave, one of its files, the study file, an option, the command. */
function namesTheInput(c: FrontDoorCase, dir: string, message: string): boolean {
  const argv = c.argv.map((a) => a.replaceAll('@DIR@', dir));
  const flags = argv.filter((a) => a.startsWith('-')).map((a) => a.replace(/=.*$/, ''));
  const paths = argv.filter((a) => a.includes('/')).flatMap((a) => [a, basename(a)]);
  const values = argv.flatMap((a) => [`'${a}'`, `"${a}"`]);
  const marks = [...flags, ...paths, ...values, ...c.files.map((f) => f.name), 'study file', 'option ', 'study run'];
  return marks.some((m) => message.includes(m));
}

/** Why an outcome breaks the front door's promise, or undefined when it keeps it. */
function violation(c: FrontDoorCase, o: Outcome): string | undefined {
  if (o.status === 'timeout') return `no answer within ${CASE_SECONDS} s (a hang)`;
  if (o.status === 'finished')
    return o.code === 0 ? undefined : `finished with exit code ${o.code} (a study whose runs failed after its file was accepted)`;
  const message = o.message ?? '';
  if (!INPUT_ERRORS.includes(o.name ?? '')) return `uncaught ${o.name}: ${message}\n${o.stack ?? ''}`;
  if (message.includes('\n')) return `a message of more than one line: ${JSON.stringify(message)}`;
  if (!namesTheInput(c, o.dir ?? '', message)) return `a message that names no input: ${message}`;
  const left = (o.after ?? []).filter((f) => !(o.before ?? []).includes(f));
  if (left.length > 0) return `files written on error (${left.join(', ')}): ${message}`;
  return undefined;
}

describe('the front door (fuzzed)', () => {
  it(
    `keeps its promise on ${CASES} generated cases: finished, or one line naming the input, exit 2, nothing written`,
    async () => {
      // Every path a case names lies in its own folder: nothing may appear beside the tests.
      const cwdBefore = readdirSync('.').sort();
      const runner = new CaseRunner();
      const failures: string[] = [];
      const tally = { finished: 0, refused: 0 };
      const kinds = new Map<string, number>();
      const started = performance.now();
      try {
        for (let seed = FIRST_SEED; seed < FIRST_SEED + CASES; seed++) {
          const c = frontDoorCase(seed);
          const o = await runner.run(c);
          kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
          if (o.status === 'finished') tally.finished++;
          else tally.refused++;
          const v = violation(c, o);
          if (v) failures.push(`case ${seed} (${c.kind}) ${c.command} ${c.argv.join(' ')}: ${v}`);
          if (failures.length >= 5) break;
        }
      } finally {
        await runner.close();
      }
      const s = ((performance.now() - started) / 1000).toFixed(1);
      const byKind = [...kinds].map(([k, n]) => `${k} ${n}`).join(', ');
      console.log(
        `fuzz: ${tally.finished + tally.refused} cases from seed ${FIRST_SEED} in ${s} s (${byKind}): ${tally.finished} finished, ${tally.refused} refused`,
      );
      expect(failures).toEqual([]);
      expect(readdirSync('.').sort()).toEqual(cwdBefore);
      // both sides of the door are exercised
      expect(tally.finished).toBeGreaterThan(CASES / 20);
      expect(tally.refused).toBeGreaterThan(CASES / 4);
    },
    Math.max(600_000, CASES * 200),
  );
});
