/** Tests for the token pattern language used by the report vocabularies. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compilePattern, findAll, matchAt } from "./patterns.js";

describe("report patterns", () => {
  it("matches words, prefixes, alternatives and gaps", () => {
    const p = compilePattern("pleural {0,2} thickening|thickened");
    assert.equal(matchAt(p, ["pleural", "thickening"], 0), 2);
    assert.equal(matchAt(p, ["pleural", "apical", "mild", "thickened"], 0), 4);
    assert.equal(matchAt(p, ["pleural", "a", "b", "c", "thickening"], 0), -1);
    const stem = compilePattern("atelecta*");
    assert.deepEqual(
      findAll([stem], ["no", "atelectatic", "change", "atelectasis"]).map((s) => s.start),
      [1, 3],
    );
  });

  it("takes the shortest gap and rejects patterns that start or end with a gap", () => {
    assert.equal(matchAt(compilePattern("no {0,3} effusion"), ["no", "effusion", "effusion"], 0), 2);
    assert.throws(() => compilePattern("{0,2} effusion"), { code: "RL_ERR_CONFIG_INVALID" });
    assert.throws(() => compilePattern("effusion {2,1} x"), { code: "RL_ERR_CONFIG_INVALID" });
  });
});
