import { apply1, apply2, ARITY, Op, PROTECT_DIV } from '../tree/primitives.js';

/**
 * Compiles postfix trees into the register programs of the WebAssembly kernel (src/eval/wasm/eval.ts).
 *
 * A program is a list of instructions [kop, dst, a, b] (Int32), kop = opcode * 4 + variant:
 * - variant 0: vector operands (a, and b for binary operators);
 * - variant 1: vector `a`, constant `b` (an index into the constant table);
 * - variant 2: constant `a`, vector `b`.
 * A vector operand x >= 0 names slot x (a row-block buffer); x < 0 names input column ~x, read in place.
 *
 * Factors over a plain stack interpreter, all bitwise neutral:
 * - Leaves are never materialised: a variable operand is read from its column, a constant operand is
 *   splatted inside the operator's loop (the "specialised loops for a constant or a variable operand").
 * - Constant subtrees are folded at compile time with the reference functions apply1/apply2, which give
 *   exactly what the reference computes on every row; `a / c` with |c| <= 0.001 folds to 1 for the
 *   same reason (the protected division returns 1 whatever `a` is).
 * - Slots are stack positions, so an operator writes in place over its left operand: a program needs
 *   at most (stack depth) slots, which keeps the working set in the L1/L2 cache.
 * - A unary function of an input (`log(x3)`) is read from the kernel's derived column for it, computed
 *   once per data set, on first use, by the same SIMD function, where the kernel holds them (`derived`).
 * The root's value always ends in slot 0.
 */
/**
 * The unary ops with derived columns, opcodes DERIVED_FIRST to DERIVED_FIRST + DERIVED_OPS - 1 (sin, cos,
 * exp, protected log, sqrt): a kernel holding nv inputs may also hold op(input j) as input column
 * nv + (op - DERIVED_FIRST) * nv + j, computed once, on first use, by the same SIMD functions (src/eval/kernel.ts).
 */
export const DERIVED_FIRST: number = Op.Sin;
export const DERIVED_OPS = Op.Sqrt - Op.Sin + 1;

/** Arity by opcode, as a typed array local to this module (fast in the compile loop). */
const ARITY8 = Uint8Array.from(ARITY);
const CONST: number = Op.Const;
const VAR: number = Op.Var;
const ADD: number = Op.Add;
const MUL: number = Op.Mul;
const DIV: number = Op.Div;

export class ProgramBuilder {
  /** Instructions, 4 Int32 each. */
  code = new Int32Array(4096);
  /** Constant table shared by the programs of a batch. */
  consts = new Float64Array(1024);
  /** Instructions written so far. */
  nInstr = 0;
  nConsts = 0;
  /** Slots the programs written so far need (max over programs). */
  slots = 1;
  // Compile-time stack: kind 0 = in slot (position), 1 = variable, 2 = constant.
  private kind = new Uint8Array(64);
  private value = new Float64Array(64);

  /**
   * Derived columns the programs read for the first time since the kernel last loaded them (indices
   * (op - DERIVED_FIRST) * derived + j): the kernel computes each on its first use (Kernel.load).
   */
  readonly newDerived: number[] = [];
  /** Derived columns any program of this builder has read (so each is announced once). */
  private readonly usedDerived: Uint8Array;

  /**
   * @param derived inputs whose derived columns the kernel holds (Kernel.derived; 0: none): a unary op
   *   of such an input then reads its column instead of computing it (the same bits).
   */
  constructor(readonly derived = 0) {
    this.usedDerived = new Uint8Array(DERIVED_OPS * derived);
  }

  reset(): void {
    this.nInstr = 0;
    this.nConsts = 0;
    this.slots = 1;
  }

  /**
   * Appends the program of the tree whose postfix nodes are op/arg[start, end); returns the index of
   * its first instruction (its length is `nInstr` afterwards minus that).
   */
  add(op: Uint8Array, arg: Float64Array, start: number, end: number): number {
    const n = end - start;
    this.reserve(n + 1);
    if (this.kind.length < n + 1) {
      this.kind = new Uint8Array(2 * (n + 1));
      this.value = new Float64Array(2 * (n + 1));
    }
    // Locals only in the loop (this function runs once per tree: at 10 rows it is a third of the time).
    const kind = this.kind;
    const value = this.value;
    const code = this.code;
    const consts = this.consts;
    const first = this.nInstr;
    let k = first * 4;
    let nc = this.nConsts;
    const nd = this.derived;
    let sp = 0;
    let maxSlot = 0;
    for (let i = start; i < end; i++) {
      const o = op[i] as number;
      if (o === CONST) {
        kind[sp] = 2;
        value[sp++] = arg[i] as number;
      } else if (o === VAR) {
        kind[sp] = 1;
        value[sp++] = arg[i] as number;
      } else if (ARITY8[o] === 1) {
        const p = sp - 1;
        const kp = kind[p] as number;
        if (kp === 2) value[p] = apply1(o, value[p] as number);
        else if (kp === 1 && (value[p] as number) < nd && o >= DERIVED_FIRST && o < DERIVED_FIRST + DERIVED_OPS) {
          const d = (o - DERIVED_FIRST) * nd + (value[p] as number);
          if (this.usedDerived[d] === 0) {
            this.usedDerived[d] = 1;
            this.newDerived.push(d);
          }
          value[p] = nd + d;
        } else {
          code[k] = o * 4;
          code[k + 1] = p;
          code[k + 2] = kp === 0 ? p : ~(value[p] as number);
          code[k + 3] = 0;
          k += 4;
          kind[p] = 0;
          if (p > maxSlot) maxSlot = p;
        }
      } else {
        const q = --sp;
        const p = q - 1;
        const ka = kind[p] as number;
        const kb = kind[q] as number;
        if (ka === 2 && kb === 2) {
          value[p] = apply2(o, value[p] as number, value[q] as number);
          continue;
        }
        if (kb === 2 && o === DIV && !(Math.abs(value[q] as number) > PROTECT_DIV)) {
          kind[p] = 2;
          value[p] = 1;
          continue;
        }
        const va = ka === 0 ? p : ~(value[p] as number);
        const vb = kb === 0 ? q : ~(value[q] as number);
        code[k + 1] = p;
        if (kb === 2) {
          code[k] = o * 4 + 1;
          code[k + 2] = va;
          consts[nc] = value[q] as number;
          code[k + 3] = nc++;
        } else if (ka === 2) {
          consts[nc] = value[p] as number;
          // x + c and x * c are commutative in IEEE 754 (bitwise), so they share the VC loops.
          if (o === ADD || o === MUL) {
            code[k] = o * 4 + 1;
            code[k + 2] = vb;
            code[k + 3] = nc++;
          } else {
            code[k] = o * 4 + 2;
            code[k + 2] = nc++;
            code[k + 3] = vb;
          }
        } else {
          code[k] = o * 4;
          code[k + 2] = va;
          code[k + 3] = vb;
        }
        k += 4;
        kind[p] = 0;
        if (p > maxSlot) maxSlot = p;
      }
    }
    if (sp !== 1) throw new Error(`compile: malformed postfix tree (stack ends at ${sp})`);
    if (kind[0] !== 0) {
      code[k + 1] = 0;
      if (kind[0] === 1) {
        code[k] = VAR * 4;
        code[k + 2] = ~(value[0] as number);
        code[k + 3] = 0;
      } else {
        code[k] = CONST * 4 + 1;
        code[k + 2] = 0;
        consts[nc] = value[0] as number;
        code[k + 3] = nc++;
      }
      k += 4;
    }
    this.nInstr = k / 4;
    this.nConsts = nc;
    if (maxSlot + 1 > this.slots) this.slots = maxSlot + 1;
    return first;
  }

  /** Room for `n` more instructions and constants. */
  private reserve(n: number): void {
    if ((this.nInstr + n) * 4 > this.code.length) {
      const c = new Int32Array(2 * (this.nInstr + n) * 4);
      c.set(this.code.subarray(0, this.nInstr * 4));
      this.code = c;
    }
    if (this.nConsts + n > this.consts.length) {
      const c = new Float64Array(2 * (this.nConsts + n));
      c.set(this.consts.subarray(0, this.nConsts));
      this.consts = c;
    }
  }
}
