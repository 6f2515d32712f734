/** Token-sequence patterns for report vocabularies and NegEx-style triggers, compiled from the JSON data files. */
import { RadioLensError } from "../core/errors.js";

/** One position of a compiled pattern: a set of words/prefixes, or a gap of arbitrary tokens. */
export type TokenMatcher =
  | { readonly kind: "word"; readonly words: ReadonlySet<string>; readonly prefixes: readonly string[] }
  | { readonly kind: "gap"; readonly min: number; readonly max: number };

/** A compiled pattern with its source text (kept for explanations). */
export interface Pattern {
  readonly source: string;
  readonly matchers: readonly TokenMatcher[];
}

/** A match of a pattern: token indices `[start, end)` in one sentence. */
export interface Span {
  readonly start: number;
  readonly end: number;
  readonly pattern: string;
}

const GAP = /^\{(\d+),(\d+)\}$/;

/**
 * Compiles one pattern. Syntax (space-separated): `word` exact, `stem*` prefix, `a|b|c*` alternatives and
 * `{m,n}` a gap of m..n arbitrary tokens. Words are compared lower-cased.
 *
 * @example
 * ```ts
 * const p = compilePattern("pleural {0,2} thickening");
 * matchAt(p, ["apical", "pleural", "thickening"], 1); // 3
 * ```
 */
export function compilePattern(source: string): Pattern {
  const parts = source.trim().toLowerCase().split(/\s+/);
  const matchers: TokenMatcher[] = [];
  for (const part of parts) {
    const gap = GAP.exec(part);
    if (gap) {
      const min = Number(gap[1]);
      const max = Number(gap[2]);
      if (max < min)
        throw new RadioLensError("RL_ERR_CONFIG_INVALID", {
          detail: `bad gap '${part}' in pattern '${source}'`,
        });
      matchers.push({ kind: "gap", min, max });
      continue;
    }
    const words = new Set<string>();
    const prefixes: string[] = [];
    for (const alt of part.split("|")) {
      if (alt.length === 0) continue;
      if (alt.length > 1 && alt.endsWith("*")) prefixes.push(alt.slice(0, -1));
      else words.add(alt);
    }
    if (words.size === 0 && prefixes.length === 0) {
      throw new RadioLensError("RL_ERR_CONFIG_INVALID", { detail: `empty token in pattern '${source}'` });
    }
    matchers.push({ kind: "word", words, prefixes });
  }
  const first = matchers[0];
  const last = matchers[matchers.length - 1];
  if (!first || first.kind === "gap" || !last || last.kind === "gap") {
    throw new RadioLensError("RL_ERR_CONFIG_INVALID", {
      detail: `pattern '${source}' must start and end with a word, not a gap`,
    });
  }
  return { source, matchers };
}

function wordMatches(m: Extract<TokenMatcher, { kind: "word" }>, token: string): boolean {
  if (m.words.has(token)) return true;
  for (const p of m.prefixes) if (token.startsWith(p)) return true;
  return false;
}

/**
 * Matches `pattern` at token `start`; returns the exclusive end of the shortest match, or -1.
 *
 * @example
 * ```ts
 * matchAt(compilePattern("no {0,3} effusion"), ["no", "large", "effusion"], 0); // 3
 * ```
 */
export function matchAt(pattern: Pattern, tokens: readonly string[], start: number): number {
  const rec = (mi: number, ti: number): number => {
    if (mi === pattern.matchers.length) return ti;
    const m = pattern.matchers[mi]!;
    if (m.kind === "gap") {
      for (let k = m.min; k <= m.max && ti + k <= tokens.length; k++) {
        const end = rec(mi + 1, ti + k);
        if (end >= 0) return end;
      }
      return -1;
    }
    const tok = tokens[ti];
    if (tok === undefined || !wordMatches(m, tok)) return -1;
    return rec(mi + 1, ti + 1);
  };
  return rec(0, start);
}

interface PatternIndex {
  readonly byWord: ReadonlyMap<string, readonly Pattern[]>;
  readonly byPrefix: readonly (readonly [string, Pattern])[];
  /** Candidate patterns per token text, filled on first sight of the token (vocabularies are fixed). */
  readonly candidates: Map<string, readonly Pattern[]>;
}

const indexes = new WeakMap<readonly Pattern[], PatternIndex>();

/** Buckets patterns by their first token so a scan tries only patterns that can start at a token. */
function indexOf(patterns: readonly Pattern[]): PatternIndex {
  let idx = indexes.get(patterns);
  if (idx) return idx;
  const byWord = new Map<string, Pattern[]>();
  const byPrefix: [string, Pattern][] = [];
  for (const p of patterns) {
    const first = p.matchers[0];
    if (first?.kind !== "word") continue;
    for (const w of first.words) {
      const list = byWord.get(w) ?? [];
      list.push(p);
      byWord.set(w, list);
    }
    for (const pre of first.prefixes) byPrefix.push([pre, p]);
  }
  idx = { byWord, byPrefix, candidates: new Map() };
  indexes.set(patterns, idx);
  return idx;
}

/**
 * Every match of any of `patterns` in `tokens` (one per start position and pattern).
 *
 * @example
 * ```ts
 * findAll([compilePattern("effusion*")], ["no", "effusions"]); // [{ start: 1, end: 2, pattern: "effusion*" }]
 * ```
 */
export function findAll(patterns: readonly Pattern[], tokens: readonly string[]): Span[] {
  const idx = indexOf(patterns);
  const out: Span[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    let cands = idx.candidates.get(tok);
    if (!cands) {
      const set = new Set<Pattern>(idx.byWord.get(tok) ?? []);
      for (const [pre, p] of idx.byPrefix) if (tok.startsWith(pre)) set.add(p);
      cands = [...set];
      if (idx.candidates.size < 100_000) idx.candidates.set(tok, cands);
    }
    for (const p of cands) {
      const end = matchAt(p, tokens, i);
      if (end > i) out.push({ start: i, end, pattern: p.source });
    }
  }
  return out;
}

/**
 * True when spans `a` and `b` share a token.
 *
 * @example
 * ```ts
 * overlaps({ start: 0, end: 5 }, { start: 3, end: 9 }); // true
 * ```
 */
export function overlaps(a: { start: number; end: number }, b: { start: number; end: number }): boolean {
  return a.start < b.end && b.start < a.end;
}
