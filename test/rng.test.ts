import { describe, expect, it } from 'vitest';
import { Rng } from '../src/core/rng.js';

describe('Rng', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = Array.from(
      { length: 5 },
      (
        (r) => () =>
          r.next()
      )(new Rng(7)),
    );
    const b = Array.from(
      { length: 5 },
      (
        (r) => () =>
          r.next()
      )(new Rng(7)),
    );
    const c = Array.from(
      { length: 5 },
      (
        (r) => () =>
          r.next()
      )(new Rng(8)),
    );
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('continues exactly from a saved state', () => {
    const r = new Rng('x');
    for (let i = 0; i < 100; i++) r.next();
    const s = JSON.parse(JSON.stringify(r.state()));
    const expected = Array.from({ length: 20 }, () => r.next());
    const restored = Rng.fromState(s);
    expect(Array.from({ length: 20 }, () => restored.next())).toEqual(expected);
  });

  it('draws integers uniformly in range', () => {
    const r = new Rng(3);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 60000; i++) counts[r.int(6)]++;
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(400); // ~4 sigma
  });

  it('draws standard normals', () => {
    const r = new Rng(5);
    const xs = Array.from({ length: 20000 }, () => r.normal());
    const mean = xs.reduce((s, v) => s + v, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((s, v) => s + (v - mean) ** 2, 0) / xs.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(sd - 1)).toBeLessThan(0.03);
  });
});
