/**
 * NSGA-II building blocks (Deb, Pratap, Agarwal, Meyarivan, "A fast and elitist multiobjective genetic
 * algorithm: NSGA-II", IEEE TEC 6(2), 2002). All objectives are minimised.
 */

/** True when `a` Pareto-dominates `b`: no worse in every objective and better in one. */
export function dominates(a: readonly number[], b: readonly number[]): boolean {
  let better = false;
  for (let k = 0; k < a.length; k++) {
    const x = a[k] as number;
    const y = b[k] as number;
    if (x > y || (Number.isNaN(x) && !Number.isNaN(y))) return false;
    if (x < y) better = true;
  }
  return better;
}

/**
 * Fast non-dominated sort: fronts of indices, front 0 = the non-dominated points. Within a front
 * indices keep ascending order (so results do not depend on sort stability).
 *
 * ```
 * for each p: S_p <- points p dominates; n_p <- number dominating p
 * F_0 <- {p : n_p = 0}; F_{i+1} <- {q in S_p, p in F_i : --n_q = 0}
 * ```
 */
export function nonDominatedSort(points: readonly (readonly number[])[]): number[][] {
  const n = points.length;
  const dominated: number[][] = points.map(() => []);
  const count = new Int32Array(n);
  for (let p = 0; p < n; p++) {
    for (let q = p + 1; q < n; q++) {
      if (dominates(points[p] as number[], points[q] as number[])) {
        (dominated[p] as number[]).push(q);
        count[q]!++;
      } else if (dominates(points[q] as number[], points[p] as number[])) {
        (dominated[q] as number[]).push(p);
        count[p]!++;
      }
    }
  }
  const fronts: number[][] = [];
  let current: number[] = [];
  for (let p = 0; p < n; p++) if (count[p] === 0) current.push(p);
  while (current.length) {
    fronts.push(current);
    const next: number[] = [];
    for (const p of current) {
      for (const q of dominated[p] as number[]) if (--count[q]! === 0) next.push(q);
    }
    next.sort((a, b) => a - b);
    current = next;
  }
  return fronts;
}

/**
 * Crowding distance of each member of one front (same order as `front`): for every objective, sort
 * the front, give the two extremes +Infinity and each inner point the normalised gap between its
 * neighbours, summed over objectives.
 */
export function crowdingDistance(points: readonly (readonly number[])[], front: readonly number[]): number[] {
  const m = front.length;
  const d = new Array<number>(m).fill(0);
  if (m === 0) return d;
  const k = (points[front[0] as number] as number[]).length;
  for (let obj = 0; obj < k; obj++) {
    const v = (i: number) => (points[front[i] as number] as number[])[obj] as number;
    const order = front.map((_, i) => i).sort((a, b) => v(a) - v(b) || (front[a] as number) - (front[b] as number));
    const lo = v(order[0] as number);
    const hi = v(order[m - 1] as number);
    d[order[0] as number] = Infinity;
    d[order[m - 1] as number] = Infinity;
    const span = hi - lo;
    if (!(span > 0) || !Number.isFinite(span)) continue;
    for (let j = 1; j < m - 1; j++) {
      d[order[j] as number]! += (v(order[j + 1] as number) - v(order[j - 1] as number)) / span;
    }
  }
  return d;
}

/**
 * The crowded-comparison order of all points: by front rank, then by larger crowding distance,
 * then by index. `order[0]` is the best point. Returns the order and each point's position in it
 * (a scalar "selection fitness", lower is better, that a fitness tournament can use directly:
 * Deb's crowded tournament).
 */
export function crowdedOrder(points: readonly (readonly number[])[]): { order: number[]; position: Float64Array; rank: Int32Array } {
  const fronts = nonDominatedSort(points);
  const rank = new Int32Array(points.length);
  const order: number[] = [];
  fronts.forEach((front, r) => {
    const cd = crowdingDistance(points, front);
    const idx = front.map((_, i) => i).sort((a, b) => (cd[b] as number) - (cd[a] as number) || (front[a] as number) - (front[b] as number));
    for (const i of idx) {
      rank[front[i] as number] = r;
      order.push(front[i] as number);
    }
  });
  const position = new Float64Array(points.length);
  order.forEach((p, i) => (position[p] = i));
  return { order, position, rank };
}
