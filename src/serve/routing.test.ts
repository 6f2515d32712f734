/** Routing rules: schema errors at load, glob and regex SeriesDescription matching, first match wins, unrouted and default behaviour. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "../../test/support/shared-data.js";
import { isRadioLensError } from "../core/errors.js";
import { compileRules, globToRegExp, instanceWork, RoutingRuleSchema, routeInstance } from "./routing.js";
import { loadServeConfig } from "./server.js";

const CT = "1.2.840.10008.5.1.4.1.1.2";
const CR = "1.2.840.10008.5.1.4.1.1.1";
const served = new Map([
  ["cxr", { volumetric: false }],
  ["unet", { volumetric: true }],
]);
const rules = compileRules(
  [
    RoutingRuleSchema.parse({
      name: "ct-seg",
      match: {
        callingAeTitles: ["CT1"],
        modalities: ["CT"],
        seriesDescription: "*abdomen*",
        sopClassUids: [CT],
      },
      models: ["unet"],
      level: "series",
      completionTimeoutSeconds: 5,
    }),
    RoutingRuleSchema.parse({
      name: "mr-seg",
      match: { seriesDescriptionRegex: "^T1\\b" },
      models: ["unet"],
      level: "study",
    }),
    RoutingRuleSchema.parse({ name: "cxr", match: { modalities: ["CR", "DX"] }, models: ["cxr"] }),
  ],
  served,
);
const uids = { series: "1.2.3.4", study: "1.2.3" };

test("globs match the whole value, case-insensitively, with * and ? only", () => {
  assert.ok(globToRegExp("CT*chest*").test("ct thorax chest 1mm"));
  assert.ok(!globToRegExp("CT*chest").test("CT chest 1mm"));
  assert.ok(globToRegExp("T?").test("t1"));
  assert.ok(!globToRegExp("a.b").test("axb"), "a dot is literal");
  assert.ok(globToRegExp("(x)[1]+").test("(x)[1]+"), "regex characters are literal");
});

test("each condition decides: calling AE, Modality, SeriesDescription glob/regex and SOP class; first match wins", () => {
  const ct = { callingAeTitle: "CT1", modality: "CT", seriesDescription: "Abdomen 1.25mm", sopClassUid: CT };
  assert.equal(routeInstance(rules, ct)?.name, "ct-seg");
  assert.equal(routeInstance(rules, { ...ct, callingAeTitle: "CT2" }), undefined, "another scanner");
  assert.equal(routeInstance(rules, { ...ct, seriesDescription: "Chest" }), undefined, "another protocol");
  assert.equal(routeInstance(rules, { ...ct, sopClassUid: CR }), undefined, "another SOP class");
  const { callingAeTitle: _, ...stow } = ct;
  assert.equal(routeInstance(rules, stow), undefined, "STOW-RS has no calling AE title");
  assert.equal(
    routeInstance(rules, { ...ct, modality: "MR", seriesDescription: "T1 axial" })?.name,
    "mr-seg",
  );
  assert.equal(routeInstance(rules, { ...ct, modality: "MR", seriesDescription: "xT1 axial" }), undefined);
  assert.equal(routeInstance(rules, { modality: "cr", seriesDescription: "", sopClassUid: CR })?.name, "cxr");
});

test("the work an instance queues: instance jobs, a series or study group, nothing when unrouted, every model without rules", () => {
  const cr = { modality: "CR", seriesDescription: "PA", sopClassUid: CR };
  assert.deepEqual(instanceWork(rules, ["cxr", "unet"], cr, uids), {
    rule: "cxr",
    modelIds: ["cxr"],
    routed: true,
  });
  const ct = { callingAeTitle: "CT1", modality: "CT", seriesDescription: "ABDOMEN", sopClassUid: CT };
  const w = instanceWork(rules, ["cxr", "unet"], ct, uids);
  assert.deepEqual(w.modelIds, []);
  assert.deepEqual(w.groups, [
    { rule: "ct-seg", level: "series", groupUid: "1.2.3.4", modelIds: ["unet"], timeoutMs: 5000 },
  ]);
  const mr = instanceWork(rules, [], { modality: "MR", seriesDescription: "T1", sopClassUid: CT }, uids);
  assert.equal(mr.groups?.[0]?.groupUid, "1.2.3", "a study-level rule groups by study");
  assert.deepEqual(
    instanceWork(rules, ["cxr"], { modality: "US", seriesDescription: "", sopClassUid: CT }, uids),
    {
      modelIds: [],
      routed: false,
    },
  );
  assert.deepEqual(instanceWork([], ["a", "b"], cr, uids), { modelIds: ["a", "b"], routed: true });
});

test("bad rules are refused at load with the rule and field named", () => {
  const bad = (rulesJson: unknown, pattern: RegExp): void => {
    assert.throws(
      () => compileRules(RoutingRuleSchema.array().parse(rulesJson), served),
      (e: unknown) => isRadioLensError(e) && e.code === "RL_ERR_USAGE" && pattern.test(e.message),
    );
  };
  bad([{ name: "a", models: ["nope"] }], /routing\.0 \('a'\)\.models: no served model 'nope'/);
  bad([{ name: "a", models: ["unet"] }], /level: model 'unet' segments volumes/);
  bad([{ name: "a", models: ["cxr"], level: "series" }], /level: model 'cxr' is not a 3D segmentation model/);
  bad(
    [
      { name: "a", models: ["cxr"] },
      { name: "a", models: ["cxr"] },
    ],
    /two rules are named 'a'/,
  );
  bad([{ name: "a", models: ["cxr"], match: { seriesDescriptionRegex: "(" } }], /seriesDescriptionRegex/);
  // The schema itself, through serve.json loading: unknown keys, bad destinations, bad levels.
  const load = (routing: unknown, pattern: RegExp): void => {
    assert.throws(
      () => loadServeConfig(undefined, { routing }),
      (e: unknown) => isRadioLensError(e) && pattern.test(e.message),
    );
  };
  load([{ name: "a", models: ["x"], match: { modality: ["CT"] } }], /routing\.0\.match/);
  load([{ name: "a", models: ["x"], level: "patient" }], /routing\.0\.level/);
  load(
    [{ name: "a", models: ["x"], destinations: [{ stow: { url: "not a url" } }] }],
    /routing\.0\.destinations/,
  );
  load(
    [{ name: "a", models: ["x"], destinations: [{ dimse: { aeTitle: "PACS", host: "h", port: 0 } }] }],
    /routing\.0\.destinations/,
  );
  load([{ name: "a b", models: ["x"] }], /routing\.0\.name/);
  const ok = loadServeConfig(undefined, {
    routing: [
      {
        name: "ct",
        match: { modalities: ["CT"] },
        models: ["unet"],
        level: "series",
        destinations: [
          { dimse: { aeTitle: "PACS", host: "pacs", port: 104 } },
          { stow: { url: "https://pacs/dicom-web", username: "u", password: "p" } },
        ],
      },
    ],
  });
  assert.equal(ok.routing[0]?.completionTimeoutSeconds, 30, "the default completion timeout");
});

test("the README's example serve.json with routing rules is a valid configuration", () => {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const block = [...readme.matchAll(/```json\n([\s\S]*?)```/g)]
    .map((m) => m[1] as string)
    .find((b) => b.includes('"routing"'));
  assert.ok(block, "the README shows a serve.json with routing");
  const cfg = loadServeConfig(undefined, JSON.parse(block) as Record<string, unknown>);
  assert.deepEqual(
    cfg.routing.map((r) => [r.name, r.level, r.destinations.length]),
    [
      ["mr-hippocampus", "series", 2],
      ["chest", "instance", 0],
    ],
  );
  const rules = compileRules(
    cfg.routing,
    new Map([
      ["cxr", { volumetric: false }],
      ["hippo", { volumetric: true }],
    ]),
  );
  const mr = {
    callingAeTitle: "MR1",
    modality: "MR",
    seriesDescription: "Sag T1 MPRAGE 1mm",
    sopClassUid: "1.2.840.10008.5.1.4.1.1.4",
  };
  assert.equal(routeInstance(rules, mr)?.name, "mr-hippocampus");
  assert.equal(routeInstance(rules, { ...mr, seriesDescription: "Ax T2 FLAIR" }), undefined);
});
