/** Rule-based chest X-ray report labeler: vocabulary mentions, then NegEx/NegBio/CheXpert-style negation and uncertainty. */
import model from "wink-eng-lite-web-model";
import winkNLP from "wink-nlp";
import { findAll, overlaps, type Pattern, type Span } from "./patterns.js";
import { defaultVocabulary, FINDINGS, type Finding, type Vocabulary } from "./vocab.js";

/** Mention-level and report-level status, as the CheXpert labeler writes it: 1, 0, -1, blank. */
export type LabelValue = 1 | 0 | -1 | null;

/** Why one mention got its status. */
export interface MentionResult {
  readonly observation: Finding;
  readonly sentence: number;
  readonly text: string;
  readonly status: 1 | 0 | -1;
  /** The trigger pattern that decided the status (absent for a plain positive). */
  readonly trigger?: string;
}

/** The labels of one report: the 14 findings plus `normal`, and the mentions behind them. */
export interface ReportLabels {
  readonly labels: Readonly<Record<Finding | "normal", LabelValue>>;
  readonly mentions: readonly MentionResult[];
}

type Nlp = ReturnType<typeof winkNLP>;
let nlpInstance: Nlp | undefined;

function nlp(): Nlp {
  // The model is ~1 MB of tables; load it once per process.
  nlpInstance ??= winkNLP(model);
  return nlpInstance;
}

/** wink-nlp splits contractions ("can't" → "ca" "n't"); map the pieces to the words the patterns use. */
const CONTRACTIONS: Readonly<Record<string, string>> = { "n't": "not", ca: "can", wo: "will", cannot: "can" };

/**
 * Splits text into sentences of normalized tokens with wink-nlp (lower-cased; hyphens dropped so that
 * "plate-like" and "plate like" match the same patterns).
 *
 * @example
 * ```ts
 * tokenizeReport("No effusion. Heart enlarged."); // [["no","effusion","."],["heart","enlarged","."]]
 * ```
 */
export function tokenizeReport(text: string): string[][] {
  const w = nlp();
  const doc = w.readDoc(text);
  const out: string[][] = [];
  const sentences = doc.sentences();
  for (let si = 0; si < sentences.length(); si++) {
    const s = sentences.itemAt(si);
    const toks: string[] = [];
    for (const raw of s.tokens().out(w.its.value) as string[]) {
      const t = raw.toLowerCase();
      if (t === "-" || t === "–") continue;
      if (t === "cannot") {
        toks.push("can", "not");
        continue;
      }
      toks.push(CONTRACTIONS[t] ?? t);
    }
    if (toks.length > 0) out.push(toks);
  }
  return out;
}

function nonPseudo(triggers: Span[], pseudo: readonly Span[]): Span[] {
  return triggers.filter((t) => !pseudo.some((p) => overlaps(p, t)));
}

/** Finds a trigger that governs `mention`: forward triggers before it, backward triggers after it, in scope. */
function governing(
  tokens: readonly string[],
  mention: Span,
  forward: readonly Span[],
  backward: readonly Span[],
  terminations: readonly Span[],
  scope: Vocabulary["scope"],
): Span | undefined {
  const blocked = (from: number, to: number): boolean =>
    terminations.some((t) => t.start >= from && t.end <= to);
  // Scope counts words only: punctuation in a list ("no A, B, or C") does not use it up.
  const words = (from: number, to: number): number => {
    let n = 0;
    for (let i = from; i < to; i++) if (/[a-z0-9]/.test(tokens[i] ?? "")) n++;
    return n;
  };
  // A trigger inside a gapped mention ("heart is not enlarged") governs it.
  const inside = [...forward, ...backward].find((t) => t.start > mention.start && t.end < mention.end);
  if (inside) return inside;
  let best: Span | undefined;
  for (const t of forward) {
    if (t.end > mention.start || overlaps(t, mention)) continue;
    if (words(t.end, mention.start) > scope.forward || blocked(t.end, mention.start)) continue;
    if (!best || t.end > best.end) best = t;
  }
  if (best) return best;
  for (const t of backward) {
    if (t.start < mention.end || overlaps(t, mention)) continue;
    if (words(mention.end, t.start) > scope.backward || blocked(mention.end, t.start)) continue;
    if (!best || t.start < best.start) best = t;
  }
  return best;
}

function triggers(
  patterns: { forward: readonly Pattern[]; backward: readonly Pattern[] },
  tokens: string[],
  pseudo: Span[],
) {
  return {
    forward: nonPseudo(findAll(patterns.forward, tokens), pseudo),
    backward: nonPseudo(findAll(patterns.backward, tokens), pseudo),
  };
}

/** Drops mentions inside a longer mention of the same observation, so one phrase counts once. */
function dedupe(spans: Span[]): Span[] {
  const sorted = [...spans].sort((a, b) => a.start - b.start || b.end - a.end);
  const out: Span[] = [];
  for (const s of sorted) if (!out.some((o) => overlaps(o, s))) out.push(s);
  return out;
}

/**
 * Classifies every mention of every observation in one text (CheXpert order: pre-negation uncertainty,
 * negation, post-negation uncertainty; Irvin et al. 2019 §3.1, NegEx scope rules of Chapman et al. 2001).
 *
 * @example
 * ```ts
 * findMentions("No pneumothorax. Small left effusion.").map((m) => [m.observation, m.status]);
 * // [["Pneumothorax", 0], ["Effusion", 1]]
 * ```
 */
export function findMentions(text: string, vocab: Vocabulary = defaultVocabulary()): MentionResult[] {
  const out: MentionResult[] = [];
  const sentences = tokenizeReport(text);
  sentences.forEach((tokens, si) => {
    const pseudo = findAll(vocab.pseudo, tokens);
    const terminations = findAll(vocab.terminations, tokens);
    const pre = triggers(vocab.preNegationUncertainty, tokens, pseudo);
    const neg = triggers(vocab.negation, tokens, pseudo);
    const post = triggers(vocab.postNegationUncertainty, tokens, pseudo);
    for (const obs of vocab.observations) {
      const unmentions = findAll(obs.unmentions, tokens);
      const mentions = dedupe(
        findAll(obs.mentions, tokens).filter((m) => !unmentions.some((u) => overlaps(u, m))),
      );
      for (const m of mentions) {
        const text = tokens.slice(m.start, m.end).join(" ");
        const base = { observation: obs.name as Finding, sentence: si, text };
        const phases: [CompiledTriggers, 1 | 0 | -1][] = [
          [pre, -1],
          [neg, 0],
          [post, -1],
        ];
        let decided = false;
        for (const [tr, status] of phases) {
          const g = governing(tokens, m, tr.forward, tr.backward, terminations, vocab.scope);
          if (g) {
            out.push({ ...base, status, trigger: g.pattern });
            decided = true;
            break;
          }
        }
        if (!decided) out.push({ ...base, status: 1 });
      }
      // "Heart size normal" negates without a trigger word; a negated one ("not normal") says nothing.
      for (const a of dedupe(findAll(obs.absent, tokens))) {
        if (mentions.some((m) => overlaps(m, a))) continue;
        if (governing(tokens, a, neg.forward, neg.backward, terminations, vocab.scope)) continue;
        out.push({
          observation: obs.name as Finding,
          sentence: si,
          text: tokens.slice(a.start, a.end).join(" "),
          status: 0,
          trigger: a.pattern,
        });
      }
    }
  });
  return out;
}

type CompiledTriggers = ReturnType<typeof triggers>;

/**
 * Aggregates mentions into report labels like the CheXpert labeler: positive if any mention is positive,
 * else uncertain if any is uncertain, else negative if any is negative, else blank (not mentioned).
 * `normal` is 1 when no finding is positive or uncertain (CheXpert's "No Finding") and blank otherwise.
 *
 * @example
 * ```ts
 * labelReport("Cardiomegaly without overt edema.").labels.Cardiomegaly; // 1
 * ```
 */
export function labelReport(text: string, vocab: Vocabulary = defaultVocabulary()): ReportLabels {
  const mentions = findMentions(text, vocab);
  const labels = {} as Record<Finding | "normal", LabelValue>;
  let anyPositive = false;
  for (const f of FINDINGS) {
    const ms = mentions.filter((m) => m.observation === f);
    let v: LabelValue = null;
    if (ms.some((m) => m.status === 1)) v = 1;
    else if (ms.some((m) => m.status === -1)) v = -1;
    else if (ms.length > 0) v = 0;
    labels[f] = v;
    if (v === 1) anyPositive = true;
  }
  // CheXpert's "No Finding": nothing positive and nothing uncertain.
  labels.normal = anyPositive || FINDINGS.some((f) => labels[f] === -1) ? null : 1;
  return { labels, mentions };
}

/**
 * Labels report sections (e.g. findings and impression) as one report; each section is split into
 * sentences on its own so a section without a final period does not run into the next. When every section is
 * empty all labels, `normal` included, are blank.
 *
 * @example
 * ```ts
 * labelSections(["Heart size normal.", "No acute disease"]).labels.normal; // 1
 * ```
 */
export function labelSections(
  sections: readonly string[],
  vocab: Vocabulary = defaultVocabulary(),
): ReportLabels {
  const text = sections
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => (/[.!?]$/.test(s) ? s : `${s}.`))
    .join("\n");
  const res = labelReport(text, vocab);
  // A report with no text says nothing, not "no finding".
  return text.length === 0 ? { ...res, labels: { ...res.labels, normal: null } } : res;
}
