import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHARED } from './helpers.js';
import { afterAll, describe, expect, it } from 'vitest';

// Runs the built CLI (npm test builds first): a real child process, really killed.
const CLI = 'dist/src/cli/main.js';
const DATA = join(SHARED, 'data', 'sr', 'Nikuradse_1.csv');
const dir = mkdtempSync(join(tmpdir(), 'gpmate-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ARGS = [
  'run',
  '--data',
  DATA,
  '--population',
  '80',
  '--generations',
  '30',
  '--seed',
  '5',
  '--optimise',
  '4',
  '--objectives',
  'error-size',
  '--selection',
  'pimp',
  '--quiet',
  '--checkpoint-every',
  '1',
];
const gpmate = (args: string[]) => spawnSync('node', [CLI, ...args], { encoding: 'utf8' });
const generationOf = (path: string): number => {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { body: { generation: number } }).body.generation;
  } catch {
    return -1;
  }
};

describe('checkpoints and --resume', () => {
  it('a run killed with SIGKILL and resumed gives byte-identical result files', async () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    const full = gpmate([...ARGS, '--out', a]);
    expect(full.status, full.stderr).toBe(0);

    const child = spawn('node', [CLI, ...ARGS, '--out', b], { stdio: 'ignore' });
    const exited = new Promise<void>((res) => child.on('exit', () => res()));
    const ck = join(b, 'checkpoint.json');
    const deadline = Date.now() + 60_000;
    while (generationOf(ck) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    await exited;
    expect(existsSync(join(b, 'summary.json'))).toBe(false); // really interrupted
    const at = generationOf(ck);
    expect(at).toBeGreaterThanOrEqual(3);
    expect(at).toBeLessThan(30);

    // the first run used the worker pool (default threads); resume in-process: same results
    const resumed = gpmate(['run', '--resume', b, '--quiet', '--threads', '1']);
    expect(resumed.status, resumed.stderr).toBe(0);
    for (const f of ['generations.jsonl', 'summary.json', 'model.json']) {
      expect(readFileSync(join(b, f), 'utf8'), f).toBe(readFileSync(join(a, f), 'utf8'));
    }
  }, 120_000);

  it("a resumed run still reports the best individual's preference (front and best share the genome)", () => {
    // without scaling the chosen front member is the best's own genome: the report gives its preference
    const d = join(dir, 'pref');
    const args = ['run', '--data', DATA, '--population', '40', '--generations', '4', '--seed', '1'];
    const ok = gpmate([...args, '--optimise', '0', '--linear-scaling', 'off', '--checkpoint-every', '2', '--out', d, '--quiet']);
    expect(ok.status, ok.stderr).toBe(0);
    const before = ['generations.jsonl', 'summary.json', 'model.json'].map((f) => readFileSync(join(d, f), 'utf8'));
    expect(before[1]).toMatch(/"preference": /);
    const resumed = gpmate(['run', '--resume', d, '--quiet']); // from the last checkpoint: only the report is redone
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(['generations.jsonl', 'summary.json', 'model.json'].map((f) => readFileSync(join(d, f), 'utf8'))).toEqual(before);
  }, 60_000);

  it('refuses a corrupt checkpoint and one from different options', () => {
    const a = join(dir, 'a');
    const c = join(dir, 'c');
    const ok = gpmate([...ARGS, '--generations', '3', '--out', c]);
    expect(ok.status, ok.stderr).toBe(0);
    const path = join(c, 'checkpoint.json');
    const good = readFileSync(path, 'utf8');

    const other = gpmate(['run', '--resume', c, '--data', DATA, '--population', '50']);
    expect(other.status).toBe(2);
    expect(other.stderr).toMatch(/different options/);

    writeFileSync(path, good.replace('"evaluations":', '"evaluations":1'));
    const bad = gpmate(['run', '--resume', c]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/checkpoint\.json: checkpoint is corrupt \(checksum mismatch\)/);

    writeFileSync(path, good.slice(0, good.length >> 1)); // torn write
    expect(gpmate(['run', '--resume', c]).stderr).toMatch(/corrupt/);

    const none = gpmate(['run', '--resume', join(dir, 'nowhere')]);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/no checkpoint\.json/);
    expect(existsSync(join(a, 'model.json'))).toBe(true);
  }, 60_000);
});
