import { toInfix } from '../../tree/print.js';
import type { Tree } from '../../tree/tree.js';
import type { Dataset } from '../dataset.js';
import { evaluateTree, rmse, treeRmse } from '../reference.js';
import { GPU_VALUE_BOUND } from './kernel.js';

/**
 * The contract between the f32 GPU evaluator and the f64 CPU reference, as checkable code: the
 * GPU tests and the device benchmark (`bench/eval/gpu.ts --check`, run by bench/device.sh where no
 * test runner travels) apply the same rules.
 *
 * - Validity: a tree is invalid (+Infinity) on the device exactly when the reference is
 *   non-finite or some intermediate value leaves +-1e18 (GPU_VALUE_BOUND); within a factor of 10
 *   of the bound either answer is accepted (f32 rounding decides).
 * - Accuracy: otherwise |gpu - ref| <= 1e-3 |ref| + 1e-5 + 100 |ref32 - ref|, where ref32 is the
 *   RMSE in emulated f32 (every input and node result rounded to f32, the best any f32 evaluator
 *   can do): the last term is the tree's own sensitivity to f32 rounding.
 */

/** Largest |value| any node takes on any row in f64 (Infinity when a NaN appears). */
export function maxIntermediate(t: Tree, ds: Dataset): number {
  let m = 0;
  evaluateTree(t, ds.columns, ds.rows, undefined, (column) => {
    for (const v of column) {
      const a = Math.abs(v);
      if (!(a <= m)) m = Number.isNaN(a) ? Infinity : a;
    }
  });
  return m;
}

/** RMSE in emulated f32: inputs, constants and every node's result rounded to f32. */
export function f32EmulatedRmse(t: Tree, ds: Dataset): number {
  return rmse(evaluateTree(t, ds.columns, ds.rows, Math.fround), ds.y.map(Math.fround));
}

export type AgreementKind = 'compared' | 'invalid' | 'near-bound';

/** Checks one tree's device error against the contract; `failure` says how it was broken. */
export function checkTree(
  t: Tree,
  device: number,
  ds: Dataset,
): { kind: AgreementKind; reference: number; relative?: number; failure?: string } {
  const m = maxIntermediate(t, ds);
  const ref = treeRmse(t, ds);
  if (Number.isFinite(ref) && m > GPU_VALUE_BOUND / 10 && m < GPU_VALUE_BOUND * 10) return { kind: 'near-bound', reference: ref };
  if (m >= GPU_VALUE_BOUND * 10 || !Number.isFinite(ref)) {
    return device === Infinity
      ? { kind: 'invalid', reference: ref }
      : {
          kind: 'invalid',
          reference: ref,
          failure: `${toInfix(t, ds.names)}: reference ${ref} (max |v| ${m.toExponential(2)}) but device ${device}`,
        };
  }
  const ref32 = f32EmulatedRmse(t, ds);
  const limit = 1e-3 * Math.abs(ref) + 1e-5 + 100 * Math.abs(ref32 - ref);
  const diff = Math.abs(device - ref);
  const relative = diff / Math.max(Math.abs(ref), 1e-12);
  return diff <= limit
    ? { kind: 'compared', reference: ref, relative }
    : {
        kind: 'compared',
        reference: ref,
        relative,
        failure: `${toInfix(t, ds.names)}: device ${device}, reference ${ref}, allowed difference ${limit.toExponential(3)}`,
      };
}

export interface AgreementReport {
  readonly compared: number;
  readonly invalid: number;
  readonly nearBound: number;
  /** Trees whose validity disagrees with the contract (must be none). */
  readonly validityFailures: readonly string[];
  /** Finite trees outside the f32 tolerance. */
  readonly toleranceFailures: readonly string[];
  /** Quantiles of |gpu - ref| / ref over compared trees. */
  readonly relative: { readonly median: number; readonly p99: number; readonly p999: number; readonly max: number };
}

/** Applies {@link checkTree} to a batch. */
export function agreementReport(trees: readonly Tree[], device: ArrayLike<number>, ds: Dataset): AgreementReport {
  let compared = 0;
  let invalid = 0;
  let nearBound = 0;
  const validityFailures: string[] = [];
  const toleranceFailures: string[] = [];
  const rel: number[] = [];
  trees.forEach((t, i) => {
    const c = checkTree(t, device[i] as number, ds);
    if (c.kind === 'compared') {
      compared++;
      rel.push(c.relative as number);
      if (c.failure) toleranceFailures.push(`tree ${i}: ${c.failure}`);
    } else if (c.kind === 'invalid') {
      invalid++;
      if (c.failure) validityFailures.push(`tree ${i}: ${c.failure}`);
    } else nearBound++;
  });
  rel.sort((a, b) => a - b);
  const q = (p: number) => (rel.length ? (rel[Math.min(rel.length - 1, Math.floor(p * rel.length))] as number) : NaN);
  return {
    compared,
    invalid,
    nearBound,
    validityFailures,
    toleranceFailures,
    relative: { median: q(0.5), p99: q(0.99), p999: q(0.999), max: rel.length ? (rel[rel.length - 1] as number) : NaN },
  };
}
