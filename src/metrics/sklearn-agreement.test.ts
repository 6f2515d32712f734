/** Agreement with scikit-learn 1.2 on a small seeded set of cases (the full set runs in `npm run bench:metrics`). */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import {
  compareAgreement,
  generateAgreementCases,
  peerPython,
  runSklearnPeer,
} from "../../test/support/sklearn-agreement.js";

const probe = spawnSync(peerPython(), ["-c", "import sklearn, scipy; print(sklearn.__version__)"], {
  encoding: "utf8",
});
const sklearnVersion = probe.status === 0 ? probe.stdout.trim() : null;

describe("agreement with scikit-learn", () => {
  it("every metric agrees to 1e-9 or is undefined on both sides", {
    skip:
      sklearnVersion === null
        ? `scikit-learn not importable by ${peerPython()} (set RADIOLENS_PYTHON)`
        : false,
  }, () => {
    assert.match(sklearnVersion ?? "", /^1\.2\./, "the reference is Debian's scikit-learn 1.2");
    const cases = generateAgreementCases(40, 7);
    const kinds = new Set(cases.map((c) => `${c.task}/${c.kind}`));
    for (const k of [
      "binary/ties",
      "binary/single-class-0",
      "binary/perfect",
      "binary/inverted",
      "multiclass/ties",
      "multilabel/random",
    ]) {
      assert.ok(kinds.has(k), `cases include ${k}`);
    }
    const peer = runSklearnPeer(cases);
    const rows = compareAgreement(cases, peer.results, 1e-9);
    const bad = rows.filter((r) => r.outcome === "disagree" || r.outcome === "missing");
    assert.deepEqual(
      bad.map((r) => `${r.caseId} ${r.task}/${r.kind} ${r.metric}: ${r.detail}`),
      [],
    );
    const agree = rows.filter((r) => r.outcome === "agree").length;
    assert.ok(agree > 1000, `${agree} numeric agreements`);
    assert.ok(
      rows.some((r) => r.outcome === "both-undefined" && r.metric === "roc_auc"),
      "one-class AUC seen",
    );
  });
});
