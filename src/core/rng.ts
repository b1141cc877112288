import seedrandom from 'seedrandom';

/** Serializable state of an {@link Rng}: restoring it continues the exact same stream. */
export interface RngState {
  readonly alea: { c: number; s0: number; s1: number; s2: number };
}

type AleaPrng = seedrandom.PRNG & { state(): RngState['alea'] };
type AleaFactory = (seed?: string, options?: { state?: boolean | RngState['alea'] }) => AleaPrng;
const alea = (seedrandom as unknown as { alea: AleaFactory }).alea;

/**
 * The single source of randomness of gpmate: seedrandom's Alea generator, wrapped.
 * Every operator takes an Rng as its first argument; nothing calls Math.random.
 * Alea is chosen over seedrandom's default ARC4 because it is several times faster and its
 * state is four numbers, which makes checkpoints cheap and exact.
 */
export class Rng {
  private readonly prng: AleaPrng;

  constructor(seed: number | string, state?: RngState) {
    this.prng = state ? alea('', { state: { ...state.alea } }) : alea(String(seed), { state: true });
  }

  /** A generator that continues exactly where `state` was taken. */
  static fromState(state: RngState): Rng {
    return new Rng('', state);
  }

  /** An independent stream derived from this one (consumes one draw). */
  fork(label: string): Rng {
    return new Rng(`${label}:${this.prng.int32()}`);
  }

  state(): RngState {
    return { alea: { ...this.prng.state() } };
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.prng();
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.prng();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.prng() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.prng() < p;
  }

  /** Standard normal draw (Box-Muller; one draw per call keeps the stream simple to reason about). */
  normal(): number {
    let u = this.prng();
    while (u === 0) u = this.prng();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.prng());
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Rng.pick from an empty list');
    return items[this.int(items.length)] as T;
  }
}
