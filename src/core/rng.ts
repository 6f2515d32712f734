/** Seeded, serializable random numbers (xoroshiro128+ from pure-rand); the only source of randomness in RadioLens. */
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus, xoroshiro128plusFromState } from "pure-rand/generator/xoroshiro128plus";
import type { JumpableRandomGenerator } from "pure-rand/types/JumpableRandomGenerator";

/**
 * A mutable seeded RNG whose full state can be saved in a checkpoint and restored exactly.
 *
 * @example
 * ```ts
 * const rng = new Rng(42);
 * const x = rng.float();          // [0, 1)
 * const saved = rng.state();
 * const again = Rng.fromState(saved).float(); // same as the next rng.float()
 * ```
 */
export class Rng {
  private gen: JumpableRandomGenerator;

  constructor(seed: number) {
    this.gen = xoroshiro128plus(seed | 0);
  }

  /** Restores an RNG from {@link Rng.state}. */
  static fromState(state: readonly number[]): Rng {
    const r = new Rng(0);
    r.gen = xoroshiro128plusFromState(state);
    return r;
  }

  /** The full generator state (JSON-serializable). */
  state(): number[] {
    return [...this.gen.getState()];
  }

  /** Uniform float in [0, 1), 53 bits. */
  float(): number {
    return uniformFloat64(this.gen);
  }

  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** Uniform integer in [lo, hi] (both included). */
  int(lo: number, hi: number): number {
    return uniformInt(this.gen, lo, hi);
  }

  /** A 32-bit seed for a child generator or a tfjs initializer. */
  seed(): number {
    return this.int(0, 0x7fffffff);
  }

  /** Standard normal sample (Box–Muller, no cached spare so the state alone defines the stream). */
  normal(mean = 0, std = 1): number {
    let u = 0;
    while (u === 0) u = this.float();
    const v = this.float();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.float() < p;
  }

  /** Fisher–Yates shuffle in place; returns the array. */
  shuffle<T>(arr: T[]): T[] {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const t = arr[i] as T;
      arr[i] = arr[j] as T;
      arr[j] = t;
    }
    return arr;
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  /** An independent generator derived from this one (advances this one). */
  fork(): Rng {
    return new Rng(this.seed());
  }
}
