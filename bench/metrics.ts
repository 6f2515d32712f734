/** Metrics benchmark: agreement with scikit-learn 1.2 on seeded cases (table of every metric) and speed on one large binary problem, both against the Python peer in the same run. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RadioLensError } from "../src/core/errors.js";
import { Rng } from "../src/core/rng.js";
import {
  computeAveragePrecision,
  computeBrierScore,
  computeF1,
  computeLogLoss,
  computeMcc,
  computeRocAuc,
} from "../src/metrics/index.js";
import {
  type Comparison,
  compareAgreement,
  generateAgreementCases,
  ourAgreementValues,
  PEER_SCRIPT,
  peerPython,
  runSklearnPeer,
} from "../test/support/sklearn-agreement.js";

const CASES = Number(process.env["RADIOLENS_BENCH_CASES"] ?? 300);
const SEED = 20251121;
const TOL = 1e-9;
const LARGE_N = Number(process.env["RADIOLENS_BENCH_N"] ?? 1_000_000);

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

function agreementTable(rows: readonly Comparison[]): { disagree: number } {
  const groups = new Map<string, Comparison[]>();
  for (const r of rows) {
    const key = `${r.task}\t${r.metric}`;
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = []));
    g.push(r);
  }
  console.log(
    `${pad("task", 13)}${pad("metric", 30)}${pad("cases", 7)}${pad("agree", 7)}${pad("both-undef", 11)}${pad("DISAGREE", 9)}${pad("max |diff|", 12)}peer`,
  );
  let disagree = 0;
  for (const [key, g] of [...groups].sort((a, b) => a[0].localeCompare(b[0]))) {
    const [task, metric] = key.split("\t") as [string, string];
    const agree = g.filter((r) => r.outcome === "agree").length;
    const undef = g.filter((r) => r.outcome === "both-undefined").length;
    const bad = g.length - agree - undef;
    disagree += bad;
    const maxDiff = g.reduce((m, r) => (Number.isFinite(r.absDiff) ? Math.max(m, r.absDiff) : m), 0);
    const src = [...new Set(g.map((r) => r.src).filter((s) => s !== "-"))].join(", ");
    console.log(
      `${pad(task, 13)}${pad(metric, 30)}${pad(String(g.length), 7)}${pad(String(agree), 7)}${pad(String(undef), 11)}${pad(String(bad), 9)}${pad(maxDiff.toExponential(1), 12)}${src}`,
    );
  }
  for (const r of rows.filter((x) => x.outcome === "disagree" || x.outcome === "missing").slice(0, 20)) {
    console.log(`  DISAGREE ${r.caseId} (${r.task}/${r.kind}) ${r.metric}: ${r.detail ?? ""}`);
  }
  return { disagree };
}

function speed(): void {
  const rng = new Rng(SEED + 1);
  const labels = new Float64Array(LARGE_N);
  const scores = new Float64Array(LARGE_N);
  for (let i = 0; i < LARGE_N; i++) {
    labels[i] = rng.bernoulli(0.3) ? 1 : 0;
    // Rounded to 3 decimals so the ROC curve has heavy ties, as real model outputs often do.
    scores[i] = Math.round(1000 / (1 + Math.exp(-rng.normal(labels[i]! * 1.2, 1)))) / 1000;
  }
  const pred = Float64Array.from(scores, (s) => (s >= 0.5 ? 1 : 0));
  const dir = mkdtempSync(join(tmpdir(), "radiolens-bench-metrics-"));
  try {
    const labelsPath = join(dir, "labels.f64");
    const scoresPath = join(dir, "scores.f64");
    writeFileSync(labelsPath, new Uint8Array(labels.buffer));
    writeFileSync(scoresPath, new Uint8Array(scores.buffer));
    const r = spawnSync(peerPython(), [PEER_SCRIPT, "--timing"], {
      input: JSON.stringify({ labels_path: labelsPath, scores_path: scoresPath, repeats: 3 }),
      encoding: "utf8",
    });
    if (r.status !== 0) {
      throw new RadioLensError("RL_ERR_INTERNAL", {
        detail: `scikit-learn timing peer exited with ${r.status}: ${r.stderr}`,
      });
    }
    const peer = JSON.parse(r.stdout) as Record<string, { seconds: number; value: number }>;
    const jobs: Record<string, () => number> = {
      roc_auc: () => computeRocAuc(labels, scores),
      average_precision: () => computeAveragePrecision(labels, scores),
      log_loss: () => computeLogLoss(labels, scores),
      brier: () => computeBrierScore(labels, scores),
      f1: () => computeF1(labels, pred),
      mcc: () => computeMcc(labels, pred, 2),
    };
    console.log(
      `\nspeed: one binary problem, n = ${LARGE_N.toLocaleString("en-US")} (best of 3; ratio = ours / scikit-learn)`,
    );
    console.log(`${pad("metric", 20)}${pad("ours s", 10)}${pad("sklearn s", 11)}${pad("ratio", 8)}|diff|`);
    for (const [name, fn] of Object.entries(jobs)) {
      let best = Number.POSITIVE_INFINITY;
      let value = Number.NaN;
      for (let k = 0; k < 3; k++) {
        const t0 = performance.now();
        value = fn();
        best = Math.min(best, (performance.now() - t0) / 1000);
      }
      const p = peer[name]!;
      console.log(
        `${pad(name, 20)}${pad(best.toFixed(3), 10)}${pad(p.seconds.toFixed(3), 11)}${pad((best / p.seconds).toFixed(2), 8)}${Math.abs(value - p.value).toExponential(1)}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  const cases = generateAgreementCases(CASES, SEED);
  const counts = new Map<string, number>();
  for (const c of cases) counts.set(`${c.task}/${c.kind}`, (counts.get(`${c.task}/${c.kind}`) ?? 0) + 1);
  console.log(
    `metrics agreement: ${cases.length} seeded cases (seed ${SEED}), tolerance ${TOL} (relative above 1)`,
  );
  console.log(`kinds: ${[...counts].map(([k, v]) => `${k} ${v}`).join(", ")}`);
  const peer = runSklearnPeer(cases);
  console.log(
    `peer: ${Object.entries(peer.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}\n`,
  );
  const t0 = performance.now();
  for (const c of cases) ourAgreementValues(c);
  const ours = (performance.now() - t0) / 1000;
  const rows = compareAgreement(cases, peer.results, TOL);
  const { disagree } = agreementTable(rows);
  const agree = rows.filter((r) => r.outcome === "agree").length;
  const undef = rows.filter((r) => r.outcome === "both-undefined").length;
  console.log(
    `\n${rows.length} comparisons: ${agree} agree, ${undef} undefined on both sides (NaN here; scikit-learn raised, warned or returned NaN), ${disagree} disagree`,
  );
  console.log(
    `time for every metric of every case: ours ${ours.toFixed(3)} s, peer ${peer.seconds.toFixed(3)} s, ratio ${(ours / peer.seconds).toFixed(3)}`,
  );
  speed();
  if (disagree > 0) process.exitCode = 1;
}

main();
