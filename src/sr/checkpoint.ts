import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../core/atomic.js';
import { ConfigError, DataError } from '../core/errors.js';
import type { EvolutionState } from '../core/evolve.js';
import type { RngState } from '../core/rng.js';
import type { Individual } from '../core/types.js';
import { treeOf, type Tree } from '../tree/tree.js';
import { sha256 } from './model.js';
import type { FrontEntry } from './pareto.js';
import type { RegressionSnapshot } from './run.js';

export const CHECKPOINT_FORMAT = 'gpmate-checkpoint';
export const CHECKPOINT_VERSION = 1;

/*
 * Checkpoints hold the exact state: trees as base64 of their opcode bytes and float64 argument
 * bytes (JSON numbers would lose -0), fitness values as numbers or "Infinity". Per-case losses
 * (lexicase, pareto) are base64 float64 vectors in one table, each stored once however many
 * individuals share it (elites and unvaried copies share their parent's), referred to by index.
 * A front entry holding the best individual's own genome says so (b: 1) and gets that object back:
 * the report tells the best's preference only for its own genome, by identity.
 */
type EncTree = { op: string; arg: string };
const encTree = (t: Tree): EncTree => ({
  op: Buffer.from(t.op.buffer, t.op.byteOffset, t.op.byteLength).toString('base64'),
  arg: Buffer.from(t.arg.buffer, t.arg.byteOffset, t.arg.byteLength).toString('base64'),
});
function decTree(e: EncTree): Tree {
  const op = Uint8Array.from(Buffer.from(e.op, 'base64'));
  const bytes = Buffer.from(e.arg, 'base64');
  const arg = new Float64Array(bytes.byteLength / 8);
  new Uint8Array(arg.buffer).set(bytes);
  return treeOf(op, arg);
}
const encNum = (v: number | undefined): number | string | null => (v === undefined ? null : Number.isFinite(v) ? v : String(v));
const decNum = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));

type EncInd = { g: EncTree; p?: EncTree; f: number | string | null; c?: number };
/** Per-case loss vectors of a state, by identity: each distinct vector once. */
class CaseTable {
  readonly vectors: Float64Array[] = [];
  private readonly index = new Map<Float64Array, number>();
  ref(v: Float64Array): number {
    let i = this.index.get(v);
    if (i === undefined) this.index.set(v, (i = this.vectors.push(v) - 1));
    return i;
  }
}
const encInd = (i: Individual<Tree>, table: CaseTable): EncInd => ({
  g: encTree(i.genome),
  ...(i.preference ? { p: encTree(i.preference) } : {}),
  f: encNum(i.fitness),
  ...(i.cases ? { c: table.ref(i.cases) } : {}),
});
function decInd(e: EncInd, table: readonly Float64Array[]): Individual<Tree> {
  const f = decNum(e.f);
  const cases = e.c === undefined ? undefined : table[e.c];
  if (e.c !== undefined && !cases) throw new DataError(`checkpoint refers to per-case losses #${e.c}, which it does not hold`);
  return {
    genome: decTree(e.g),
    ...(e.p ? { preference: decTree(e.p) } : {}),
    ...(f !== undefined ? { fitness: f } : {}),
    ...(cases ? { cases } : {}),
  };
}
const encF64 = (v: Float64Array): string => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
function decF64(s: string): Float64Array {
  const bytes = Buffer.from(s, 'base64');
  const v = new Float64Array(bytes.byteLength / 8);
  new Uint8Array(v.buffer).set(bytes);
  return v;
}

/** What a checkpoint stores beside the engine state: who wrote it, for which run, and the results so far. */
export interface CheckpointMeta {
  /** Fingerprint of the run's settings and data (a checkpoint only resumes the same run). */
  readonly fingerprint: string;
  /** The run's own arguments, to re-create task and options on resume. */
  readonly args: readonly string[];
  /** Output lines written so far (generations.jsonl). */
  readonly history: readonly string[];
}

export interface Checkpoint extends CheckpointMeta {
  readonly snapshot: RegressionSnapshot;
}

/** Serialises a checkpoint (with a sha256 checksum of its body) and writes it atomically. */
export function writeCheckpoint(path: string, c: Checkpoint): void {
  const s = c.snapshot.state;
  const table = new CaseTable();
  const best = encInd(s.best, table);
  const population = s.population.map((i) => encInd(i, table));
  const body = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    fingerprint: c.fingerprint,
    args: c.args,
    generation: s.generation,
    state: {
      generation: s.generation,
      rngState: s.rngState,
      evaluations: s.evaluations,
      best,
      population,
      ...(table.vectors.length ? { cases: table.vectors.map(encF64) } : {}),
    },
    front: c.snapshot.front.map((e) => ({
      t: encTree(e.tree),
      loss: encNum(e.loss),
      size: e.size,
      ...(e.tree === s.best.genome ? { b: 1 } : {}),
    })),
    history: c.history,
  };
  const text = JSON.stringify(body);
  writeFileAtomic(path, `{"checksum":"${sha256(text)}","body":${text}}\n`);
}

/** Reads and verifies a checkpoint: a corrupt or truncated file is an error, never loaded. */
export function readCheckpoint(path: string): Checkpoint {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${path}: cannot read checkpoint (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const m = /^\{"checksum":"([0-9a-f]{64})","body":([\s\S]*)\}\n?$/.exec(raw);
  if (!m || sha256(m[2] as string) !== m[1]) throw new DataError(`${path}: checkpoint is corrupt (checksum mismatch); not loaded`);
  const b = JSON.parse(m[2] as string) as {
    format: string;
    version: number;
    fingerprint: string;
    args: string[];
    state: { generation: number; rngState: RngState; evaluations: number; best: EncInd; population: EncInd[]; cases?: string[] };
    front: { t: EncTree; loss: number | string; size: number; b?: 1 }[];
    history: string[];
  };
  if (b.format !== CHECKPOINT_FORMAT) throw new DataError(`${path}: not a gpmate checkpoint`);
  if (b.version !== CHECKPOINT_VERSION)
    throw new DataError(`${path}: checkpoint format version ${b.version}; this gpmate reads version ${CHECKPOINT_VERSION}`);
  // decoded once: individuals that shared a vector share it again
  const table = (b.state.cases ?? []).map(decF64);
  const state: EvolutionState<Tree> = {
    generation: b.state.generation,
    rngState: b.state.rngState,
    evaluations: b.state.evaluations,
    best: decInd(b.state.best, table),
    population: b.state.population.map((e) => decInd(e, table)),
  };
  const front: FrontEntry[] = b.front.map((e) => ({
    tree: e.b === 1 ? state.best.genome : decTree(e.t),
    loss: decNum(e.loss) as number,
    size: e.size,
  }));
  return { fingerprint: b.fingerprint, args: b.args, history: b.history, snapshot: { state, front } };
}
