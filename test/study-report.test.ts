import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { renderSvg } from '../src/study/report.js';
import { tempDir, tinyStudy, writeStudy } from './study-helpers.js';
import { hasSystem } from './system.js';

const CLI = 'dist/src/cli/main.js';

function gpmate(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

describe('study report', () => {
  it('renders a Vega-Lite spec to SVG in Node', async () => {
    const svg = await renderSvg({
      data: {
        values: [
          { x: 1, y: 2 },
          { x: 2, y: 3 },
        ],
      },
      mark: 'line',
      encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } },
    });
    expect(svg).toMatch(/^<svg /);
    expect(svg).toContain('mark-line');
  });

  it.skipIf(!hasSystem('chromium', 'the study report test in headless Chromium'))(
    'smoke study end to end: run, report, export; the page loads in headless Chromium without errors and shows its figures',
    async () => {
      const dir = tempDir();
      const db = join(dir, 'smoke.db');
      const run = gpmate('study', 'run', 'studies/smoke.json', '--db', db, '--threads', '2');
      expect(run.status).toBe(0);
      expect(run.stdout).toMatch(/^study: 30 runs, 0 already stored, 30 run now/);
      expect(run.stderr).toContain('30/30 runs');
      const out = join(dir, 'report');
      const rep = gpmate('study', 'report', db, '--out', out);
      expect(rep.stderr).toBe('');
      expect(rep.status).toBe(0);
      const figures = readdirSync(join(out, 'figures'));
      for (const f of [
        'koza-1-gen-best_fitness.svg',
        'koza-1-gen-unique_share.svg',
        'koza-1-box-run.best_train.svg',
        'koza-1-pref-pref_mean_size.svg',
      ]) {
        expect(figures).toContain(f);
      }
      const html = readFileSync(join(out, 'report.html'), 'utf8');
      expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/); // self-contained: no scripts, nothing fetched
      expect(html).toContain('Success rate');
      expect(html).toContain('Holm p');
      const exp = gpmate('study', 'export', db, '--csv', join(dir, 'csv'));
      expect(exp.status).toBe(0);
      expect(
        readFileSync(join(dir, 'csv', 'runs.csv'), 'utf8')
          .trimEnd()
          .split('\n'),
      ).toHaveLength(31);

      const profile = mkdtempSync(join(tmpdir(), 'gpmate-chromium-'));
      const browser = await chromium.launchPersistentContext(profile, {
        executablePath: '/usr/bin/chromium',
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      try {
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error') errors.push(m.text());
        });
        page.on('pageerror', (e) => errors.push(String(e)));
        page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
        await page.goto(`file://${join(out, 'report.html')}`);
        await page.waitForLoadState('load');
        expect(errors).toEqual([]);
        expect(await page.locator('figure svg').count()).toBe(figures.length);
        // Marks are drawn: median lines and IQR bands over generations, box plots, and visible size.
        expect(await page.locator('svg g.mark-line path').count()).toBeGreaterThan(10);
        expect(await page.locator('svg g.mark-area path').count()).toBeGreaterThan(10);
        expect(await page.locator('svg g.mark-rect path, svg g.mark-rect rect').count()).toBeGreaterThan(0);
        const box = await page.locator('figure svg').first().boundingBox();
        expect(box?.width ?? 0).toBeGreaterThan(200);
        expect(box?.height ?? 0).toBeGreaterThan(100);
        const lineHasPath = await page.locator('svg g.mark-line path').first().getAttribute('d');
        expect(lineHasPath ?? '').toMatch(/^M[\d.-]+,[\d.-]+L/);
        expect(await page.locator('table.success tbody tr').count()).toBe(2);
        expect(await page.locator('table.tests').count()).toBeGreaterThan(3);
        expect(await page.locator('table.across').count()).toBe(3);
      } finally {
        await browser.close();
      }
    },
    120_000,
  );

  it("a PIMP-only variant is compared with the default variant's baselines; titles show mate choice; findings by instance; across runs", () => {
    const dir = tempDir();
    const file = writeStudy(
      dir,
      tinyStudy({
        seeds: 4,
        variants: { default: {}, far: { mateRule: 'dissimilar', selection: ['pimp'] } },
      }),
    );
    const db = join(dir, 'v.db');
    expect(gpmate('study', 'run', file, '--db', db, '--quiet').status).toBe(0);
    const out = join(dir, 'report');
    const rep = gpmate('study', 'report', db, '--out', out);
    expect(rep.stderr).toBe('');
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('16 of 16 runs finished');
    expect(html).toContain("are compared with the other modes' runs of the first variant that has them (default)");
    expect(html).toContain('2 variants (some under some selection modes only): 4 cells × 4 seeds');
    // the far instance's success row has all three modes: its own pimp and the default variant's baselines
    const farRow = /<tr><th>subtree mutation, rate 0.2, far<\/th>(.*?)<\/tr>/.exec(html.split('class="success"')[1] ?? '')?.[1] ?? '';
    expect(farRow.match(/<td>\d\/4 = /g)).toHaveLength(3);
    const caption = /<figcaption>(koza-1: best fitness[^<]*)<\/figcaption>/.exec(html)?.[1] ?? '';
    expect(caption).toContain('mate choice: pimp: [default] pool 5 (uniform), ideal rule, structural distance');
    expect(caption).toContain('[far] pool 5 (uniform), dissimilar rule');
    expect(caption).toContain('tournament: k 5');
    expect(html).toMatch(/by instance<\/h2>\n(<h3>koza-1, subtree mutation, rate 0.2, (default|far)<\/h3><ul>|<p>No significant)/);
    expect(html).toContain('Across runs (the best solution of each seed');
    expect(html.match(/<table class="across">/g)).toHaveLength(3);
    expect(gpmate('study', 'export', db, '--csv', join(dir, 'csv')).status).toBe(0);
    const across = readFileSync(join(dir, 'csv', 'across.csv'), 'utf8')
      .trimEnd()
      .split('\n');
    expect(across[0]).toBe(
      'cell,problem,selection,mutation,mutation_rate,variant,runs,behaviours,distance,distance_lo,distance_hi,distance_norm,distance_norm_lo,distance_norm_hi,distinct_pairs,distinct_pairs_lo,distinct_pairs_hi',
    );
    expect(across).toHaveLength(1 + 4);
    for (const row of across.slice(1)) {
      const f = row.split(',');
      expect(f[6]).toBe('4');
      const [v, lo, hi] = f.slice(8, 11).map(Number);
      expect(lo!).toBeLessThanOrEqual(v! + 1e-9);
      expect(hi!).toBeGreaterThanOrEqual(v! - 1e-9);
    }
    const gens = readFileSync(join(dir, 'csv', 'generations.csv'), 'utf8').split('\n')[0] ?? '';
    expect(gens).toContain('structuralDiversityNorm');
  }, 60_000);

  it("across-run measures of a CSV problem: its relative data path is read from the study file's folder, wherever the database is", () => {
    const dir = tempDir();
    const rows = Array.from({ length: 40 }, (_, i) => `${i / 10},${(i / 10) ** 2 + 1}`);
    writeFileSync(join(dir, 'd.csv'), ['x,y', ...rows].join('\n') + '\n');
    const file = writeStudy(dir, tinyStudy({ problems: [{ name: 'sq', data: 'd.csv' }], selection: ['pimp', 'tournament'], seeds: 3 }));
    const elsewhere = tempDir();
    const db = join(elsewhere, 'csv.db');
    expect(gpmate('study', 'run', file, '--db', db, '--quiet').status).toBe(0);
    expect(gpmate('study', 'export', db, '--csv', join(elsewhere, 'csv')).status).toBe(0);
    const across = readFileSync(join(elsewhere, 'csv', 'across.csv'), 'utf8')
      .trimEnd()
      .split('\n');
    expect(across).toHaveLength(3);
    for (const row of across.slice(1)) expect(Number(row.split(',')[7])).toBeGreaterThanOrEqual(1); // behaviours
  }, 60_000);

  it('reports bad input in one line without writing anything', () => {
    const dir = tempDir();
    const r = gpmate('study', 'report', join(dir, 'none.db'), '--out', join(dir, 'out'));
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`gpmate: database ${join(dir, 'none.db')}: not found\n`);
    expect(existsSync(join(dir, 'out'))).toBe(false);
    expect(gpmate('study', 'report', join(dir, 'none.db')).stderr).toBe('gpmate: study report: option --out DIR is required\n');
    expect(gpmate('study', 'run').stderr).toBe('gpmate: study run: expected one FILE.json, got none\n');
    expect(gpmate('study', 'run', 'studies/smoke.json', '--threads', '0').stderr).toBe(
      'gpmate: option --threads: expected an integer >= 1, got 0\n',
    );
    expect(gpmate('study', 'run', 'studies/smoke.json', '--colour').status).toBe(2);
    const missing = gpmate('study', 'run', join(dir, 'missing.json'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe(`gpmate: study file ${join(dir, 'missing.json')}: not found\n`);
    expect(existsSync(join(dir, 'missing.db'))).toBe(false);
  });
});
