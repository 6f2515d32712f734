/** Patient-grouped, label-stratified splits (ratios or k-fold) and the patient-leak check that guards every split. */
import { RadioLensError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import type { DataSource, Label } from "./types.js";

/** Index lists by split name, e.g. `{ train: [...], val: [...], test: [...] }`. */
export type Splits = Readonly<Record<string, readonly number[]>>;

/** What the splitters need: labels, classes and (optionally) patient groups, never the pixels. */
export interface SplitInput {
  readonly size: number;
  readonly numClasses: number;
  label(i: number): Label;
  /** Patient id; items without one are treated as a patient of their own. */
  group(i: number): string | undefined;
}

/**
 * Adapts a {@link DataSource} to {@link SplitInput}.
 *
 * @example
 * ```ts
 * const s = splitByRatio(splitInput(source), { ratios: { train: 0.8, test: 0.2 }, seed: 1 });
 * ```
 */
export function splitInput(source: DataSource): SplitInput {
  return {
    size: source.size,
    numClasses: source.task.classNames.length,
    label: (i) => source.label(i),
    group: (i) => source.group(i),
  };
}

interface Group {
  readonly members: number[];
  readonly counts: Float64Array;
}

function collectGroups(input: SplitInput): Group[] {
  const byId = new Map<string, Group>();
  const groups: Group[] = [];
  for (let i = 0; i < input.size; i++) {
    const id = input.group(i);
    let g = id === undefined ? undefined : byId.get(id);
    if (!g) {
      g = { members: [], counts: new Float64Array(input.numClasses) };
      groups.push(g);
      if (id !== undefined) byId.set(id, g);
    }
    g.members.push(i);
    const y = input.label(i);
    if (typeof y === "number") {
      if (!(Number.isInteger(y) && y >= 0 && y < input.numClasses)) {
        throw new RadioLensError("RL_ERR_LABEL_OUT_OF_RANGE", {
          detail: `item ${i} has label ${y}, outside 0..${input.numClasses - 1}`,
        });
      }
      g.counts[y] = (g.counts[y] as number) + 1;
    } else {
      for (let c = 0; c < input.numClasses; c++)
        g.counts[c] = (g.counts[c] as number) + ((y[c] ?? 0) > 0 ? 1 : 0);
    }
  }
  return groups;
}

function std(v: Float64Array): number {
  let m = 0;
  for (const x of v) m += x;
  m /= v.length || 1;
  let s = 0;
  for (const x of v) s += (x - m) * (x - m);
  return Math.sqrt(s / (v.length || 1));
}

/**
 * Greedy stratified group assignment, the algorithm of scikit-learn's StratifiedGroupKFold generalized to unequal
 * target ratios: groups are shuffled (seeded), ordered by the spread of their class counts (most skewed first), and
 * each goes to the split where it keeps every class's fill (count / (ratio · class total)) most even across splits;
 * ties go to the split furthest below its target size.
 */
function assignGroups(groups: Group[], ratios: readonly number[], numClasses: number, rng: Rng): number[][] {
  const order = rng.permutation(groups.length);
  const spread = order.map((g) => std((groups[g] as Group).counts));
  const ranked = order.map((g, k) => [g, spread[k] as number] as const).sort((a, b) => b[1] - a[1]);
  const totals = new Float64Array(numClasses);
  let n = 0;
  for (const g of groups) {
    for (let c = 0; c < numClasses; c++) totals[c] = (totals[c] as number) + (g.counts[c] as number);
    n += g.members.length;
  }
  const S = ratios.length;
  const counts = ratios.map(() => new Float64Array(numClasses));
  const sizes = new Float64Array(S);
  const out: number[][] = ratios.map(() => []);
  const fill = new Float64Array(S);
  for (const [gi] of ranked) {
    const g = groups[gi] as Group;
    let best = 0;
    let bestCost = Number.POSITIVE_INFINITY;
    let bestFill = Number.POSITIVE_INFINITY;
    for (let s = 0; s < S; s++) {
      const r = ratios[s] as number;
      if (r <= 0) continue;
      let cost = 0;
      for (let c = 0; c < numClasses; c++) {
        const t = totals[c] as number;
        if (t === 0) continue;
        for (let u = 0; u < S; u++) {
          const ru = ratios[u] as number;
          fill[u] =
            ru > 0
              ? (((counts[u] as Float64Array)[c] as number) + (u === s ? (g.counts[c] as number) : 0)) /
                (ru * t)
              : 0;
        }
        cost += std(ratios.some((x) => x <= 0) ? fill.filter((_, u) => (ratios[u] as number) > 0) : fill);
      }
      const sizeFill = ((sizes[s] as number) + g.members.length) / (r * n);
      if (cost < bestCost - 1e-12 || (Math.abs(cost - bestCost) <= 1e-12 && sizeFill < bestFill)) {
        best = s;
        bestCost = cost;
        bestFill = sizeFill;
      }
    }
    const cs = counts[best] as Float64Array;
    for (let c = 0; c < numClasses; c++) cs[c] = (cs[c] as number) + (g.counts[c] as number);
    sizes[best] = (sizes[best] as number) + g.members.length;
    (out[best] as number[]).push(...g.members);
  }
  for (const o of out) o.sort((a, b) => a - b);
  return out;
}

/** Options for {@link splitByRatio}. */
export interface RatioSplitOptions {
  /** Split name → fraction, e.g. `{ train: 0.7, val: 0.1, test: 0.2 }`; normalized to sum 1. */
  readonly ratios: Readonly<Record<string, number>>;
  readonly seed: number;
}

/**
 * Splits items by ratios, keeping each patient's items together and each split's class mix close to the whole.
 * Deterministic for a seed. The result passes {@link assertNoPatientLeak} by construction.
 *
 * @example
 * ```ts
 * const { train, val, test } = splitByRatio(splitInput(src), { ratios: { train: 0.7, val: 0.1, test: 0.2 }, seed: 1 });
 * ```
 */
export function splitByRatio(input: SplitInput, opts: RatioSplitOptions): Splits {
  const names = Object.keys(opts.ratios);
  const raw = names.map((k) => opts.ratios[k] as number);
  const sum = raw.reduce((a, b) => a + b, 0);
  if (names.length < 2 || raw.some((r) => !(r >= 0)) || !(sum > 0)) {
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `split ratios must be two or more non-negative numbers with a positive sum, got ${JSON.stringify(opts.ratios)}`,
    });
  }
  const parts = assignGroups(
    collectGroups(input),
    raw.map((r) => r / sum),
    input.numClasses,
    new Rng(opts.seed),
  );
  const out: Record<string, readonly number[]> = {};
  names.forEach((n, k) => {
    out[n] = parts[k] as number[];
  });
  return out;
}

/** One fold of {@link kFold}. */
export interface Fold {
  readonly train: readonly number[];
  readonly val: readonly number[];
}

/**
 * Stratified group k-fold: every patient's items land in exactly one validation fold, and each fold's class mix is
 * kept close to the whole (scikit-learn's StratifiedGroupKFold criterion). Deterministic for a seed.
 *
 * @example
 * ```ts
 * for (const { train, val } of kFold(splitInput(src), { k: 5, seed: 1 })) { ... }
 * ```
 */
export function kFold(input: SplitInput, opts: { readonly k: number; readonly seed: number }): Fold[] {
  if (!Number.isInteger(opts.k) || opts.k < 2) {
    throw new RadioLensError("RL_ERR_USAGE", { detail: `k-fold needs k ≥ 2, got ${opts.k}` });
  }
  const groups = collectGroups(input);
  if (groups.length < opts.k) {
    throw new RadioLensError("RL_ERR_DATA_EMPTY", {
      detail: `${opts.k}-fold needs at least ${opts.k} patients, the data has ${groups.length}`,
    });
  }
  const parts = assignGroups(
    groups,
    new Array<number>(opts.k).fill(1 / opts.k),
    input.numClasses,
    new Rng(opts.seed),
  );
  return parts.map((val, f) => ({
    val,
    train: parts
      .filter((_, g) => g !== f)
      .flat()
      .sort((a, b) => a - b),
  }));
}

/**
 * Refuses splits that share a patient. The error names the patient column and how many patients overlap, never the
 * identifiers (they may be names or MRNs).
 *
 * @example
 * ```ts
 * assertNoPatientLeak(splits, (i) => source.group(i), "patient_id");
 * ```
 */
export function assertNoPatientLeak(
  splits: Splits,
  group: (i: number) => string | undefined,
  column: string,
): void {
  const home = new Map<string, string>();
  const leaked = new Set<string>();
  for (const [name, idx] of Object.entries(splits)) {
    for (const i of idx) {
      const id = group(i);
      if (id === undefined || id === "") continue;
      const h = home.get(id);
      if (h === undefined) home.set(id, name);
      else if (h !== name) leaked.add(id);
    }
  }
  if (leaked.size > 0) throw new RadioLensError("RL_ERR_SPLIT_LEAK", { column, count: leaked.size });
}

/**
 * A seeded class-stratified sample of at most `cap` items (all of them, in order, when there are no more than
 * `cap`): each class keeps its share of the cap (largest remainders round, and a class present in the input keeps
 * at least one item while the cap allows), drawn uniformly within the class. Returned in increasing index order,
 * so the result depends only on the classes, the cap and the seed.
 *
 * @example
 * ```ts
 * stratifiedSample([0, 0, 0, 1, 1, 1, 1, 1], 4, 7); // two indices below 3 (class 0), two from 3 on (class 1)
 * ```
 */
export function stratifiedSample(classes: ArrayLike<number>, cap: number, seed: number): number[] {
  const n = classes.length;
  if (!(cap >= 1) || !Number.isInteger(cap))
    throw new RadioLensError("RL_ERR_USAGE", { detail: "a sample size must be a positive integer" });
  if (n <= cap) return Array.from({ length: n }, (_, i) => i);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const c = classes[i] as number;
    const m = byClass.get(c);
    if (m) m.push(i);
    else byClass.set(c, [i]);
  }
  const order = [...byClass.keys()].sort((a, b) => a - b);
  // Hamilton's largest-remainder apportionment; ties go to the smaller class index for determinism.
  const quota = order.map((c) => ((byClass.get(c) as number[]).length * cap) / n);
  const take = quota.map((q) => Math.floor(q));
  let left = cap - take.reduce((a, b) => a + b, 0);
  const byRemainder = order
    .map((_, k) => k)
    .sort((a, b) => quota[b]! - take[b]! - (quota[a]! - take[a]!) || a - b);
  for (const k of byRemainder) {
    if (left === 0) break;
    take[k]! += 1;
    left--;
  }
  // A rare class rounded down to nothing takes one item from the class with the most.
  for (let k = 0; k < order.length; k++) {
    if (take[k]! > 0) continue;
    let most = 0;
    for (let j = 1; j < order.length; j++) if (take[j]! > take[most]!) most = j;
    if (take[most]! <= 1) break;
    take[most]! -= 1;
    take[k] = 1;
  }
  const rng = new Rng(seed);
  const out: number[] = [];
  order.forEach((c, k) => {
    const members = byClass.get(c) as number[];
    const perm = rng.permutation(members.length);
    for (let j = 0; j < (take[k] as number); j++) out.push(members[perm[j] as number] as number);
  });
  return out.sort((a, b) => a - b);
}
