#!/usr/bin/env node
// Generates src/deid/profile-table.ts from PS3.15 Table E.1-1 and Table E.3.10-1 snapshots kept beside this script.
// Usage: node scripts/gen-deid-profile.mjs [--check] [confidentiality_profile_attributes.json]
// The table is the 2025a edition (deid-profile-2025a.tsv) merged with the 2021-2022 snapshot
// (gen-deid-profile.source.tsv): the newer edition governs every row it has, and a row only the older snapshot has
// is kept, so an update never drops an attribute. With a JSON argument (innolitics/dicom-standard format) the
// 2021-2022 snapshot is rewritten from it first.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const editionPath = join(here, "deid-profile-2025a.tsv");
const sourcePath = join(here, "gen-deid-profile.source.tsv");
const safePath = join(here, "gen-deid-profile.safe-private.tsv");
const supplementPath = join(here, "gen-deid-profile.supplement.tsv");
const outPath = join(root, "src", "deid", "profile-table.ts");

const OPTION_LETTERS = {
  rtnLongFullDatesOpt: "F",
  rtnLongModifDatesOpt: "M",
  rtnPatCharsOpt: "P",
  rtnDevIdOpt: "V",
  rtnInstIdOpt: "I",
  rtnUIDsOpt: "U",
  rtnSafePrivOpt: "S",
  cleanDescOpt: "D",
  cleanStructContOpt: "T",
  cleanGraphOpt: "G",
};
const ACTIONS = new Set(["D", "Z", "X", "K", "C", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*"]);

function fail(msg) {
  console.error(`gen-deid-profile: ${msg}`);
  process.exit(1);
}

/** Rewrites the E.1-1 snapshot from an innolitics-format JSON file, keeping the header comment. */
function importJson(jsonPath) {
  const rows = JSON.parse(readFileSync(jsonPath, "utf8"));
  const header = readFileSync(sourcePath, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("#"));
  const lines = rows.map((r) => {
    const m = /^\(([0-9A-Fa-fXxGgEe]{4}),([0-9A-Fa-fXxGgEe]{4})\)/.exec(r.tag);
    if (!m) fail(`unreadable tag ${r.tag}`);
    const tag = `${m[1].toUpperCase()},${m[2].toUpperCase()}`;
    const name = String(r.name).split("\n")[0].trim();
    const opts = Object.entries(OPTION_LETTERS)
      .filter(([k]) => r[k] !== undefined)
      .map(([k, l]) => `${l}=${r[k]}`)
      .join(" ");
    return `${tag}|${name}|${r.stdCompIOD}|${r.basicProfile}|${opts}`;
  });
  writeFileSync(sourcePath, `${[...header, ...lines].join("\n")}\n`);
}

const check = process.argv.includes("--check");
const jsonArg = process.argv.slice(2).find((a) => a !== "--check");
if (jsonArg) importJson(jsonArg);

function readRows(path) {
  const seen = new Set();
  const rows = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const [tag, name, inStd, basic, opts = ""] = line.split("|");
    if (!/^[0-9A-FXGE]{4},[0-9A-FXE]{4}$/.test(tag)) fail(`bad tag '${tag}' in ${path}`);
    if (!ACTIONS.has(basic)) fail(`bad action '${basic}' for ${tag}`);
    // "?": the source of that row does not carry the In Std. Comp. IOD column.
    if (inStd !== "Y" && inStd !== "N" && inStd !== "?") fail(`bad IOD flag for ${tag}`);
    if (seen.has(tag)) fail(`duplicate row ${tag} in ${path}`);
    seen.add(tag);
    const options = {};
    for (const kv of opts.split(" ").filter(Boolean)) {
      const [letter, action] = kv.split("=");
      if (!Object.values(OPTION_LETTERS).includes(letter) || !ACTIONS.has(action))
        fail(`bad option '${kv}' for ${tag}`);
      options[letter] = action;
    }
    rows.push([tag.replace(",", ""), name, inStd === "Y", basic, options]);
  }
  return rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

const editionRows = readRows(editionPath);
const previousRows = readRows(sourcePath);
const editionByTag = new Map(editionRows.map((r) => [r[0], r]));
const keptFromPrevious = previousRows.filter((r) => !editionByTag.has(r[0]));
const profileRows = [...editionRows, ...keptFromPrevious].sort((a, b) =>
  a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0,
);
/** Rows the two editions both have whose Basic Profile or option actions differ: [tag, name, before, after]. */
const optionText = (o) =>
  Object.entries(o)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
const editionChanges = [];
for (const r of previousRows) {
  const n = editionByTag.get(r[0]);
  if (!n) continue;
  const before = `${r[3]} ${optionText(r[4])}`.trim();
  const after = `${n[3]} ${optionText(n[4])}`.trim();
  if (before !== after) editionChanges.push([r[0], n[1], before, after]);
}
// The supplement may not repeat a row of the standard's table: the standard's own row always governs.
const profileTags = new Set(profileRows.map((r) => r[0]));
const supplementRows = readRows(supplementPath);
for (const r of supplementRows)
  if (profileTags.has(r[0])) fail(`supplement row ${r[0]} is a row of Table E.1-1`);

const safeRows = [];
for (const line of readFileSync(safePath, "utf8").split("\n")) {
  if (line === "" || line.startsWith("#")) continue;
  const [group, element, creator, vr, vm, meaning] = line.split("|");
  if (!/^[0-9A-F]{4}$/.test(group) || (Number.parseInt(group, 16) & 1) !== 1)
    fail(`bad private group ${group}`);
  if (!/^[0-9A-F]{2}$/.test(element)) fail(`bad private element ${element}`);
  safeRows.push([group, element, creator, vr, vm, meaning]);
}

function sourceLine(path) {
  const line = (
    readFileSync(path, "utf8")
      .split("\n")
      .find((l) => l.startsWith("# Source: ")) ?? ""
  ).slice(10);
  if (line === "") fail(`${path} has no '# Source:' line`);
  return line;
}
const editionLine = `${sourceLine(editionPath)}; merged with ${sourceLine(sourcePath)}`;

const out = `/** PS3.15 2025a Table E.1-1 (merged with the 2021-2022 snapshot) and Table E.3.10-1 as data; generated by scripts/gen-deid-profile.mjs, do not edit (sources in PROFILE_SOURCE). */
import type { ProfileRowData, SafePrivateRowData } from "./profile-types.js";

/**
 * Where the table comes from (cite this in a conformance statement).
 *
 * @example
 * \`\`\`ts
 * console.log(PROFILE_SOURCE);
 * \`\`\`
 */
export const PROFILE_SOURCE = ${JSON.stringify(editionLine)};

/**
 * Every row of PS3.15 Table E.1-1, 2025a edition (${editionRows.length} rows), plus ${keptFromPrevious.length} row(s) only the 2021-2022 snapshot
 * has: [tag (GGGGEEEE, X = any digit), name, in a standard composite IOD (false where the 2025a source does not say),
 * Basic Profile action, option actions keyed by letter (F full dates, M modified dates, P patient characteristics,
 * V device identity, I institution identity, U UIDs, S safe private, D clean descriptors, T clean structured content,
 * G clean graphics)].
 *
 * @example
 * \`\`\`ts
 * PROFILE_ROWS.length; // ${profileRows.length}
 * \`\`\`
 */
export const PROFILE_ROWS: readonly ProfileRowData[] = ${JSON.stringify(profileRows, null, 0).replace(/\],\[/g, "],\n  [").replace(/^\[\[/, "[\n  [").replace(/\]\]$/, "],\n]")};

/**
 * Rows whose actions changed from the 2021-2022 snapshot to the 2025a edition: [tag, name, before, after], actions as
 * \`basic option=action ...\`. The 2025a action applies; this list is for conformance statements and release notes.
 *
 * @example
 * \`\`\`ts
 * PROFILE_EDITION_CHANGES.length; // ${editionChanges.length}
 * \`\`\`
 */
export const PROFILE_EDITION_CHANGES: readonly (readonly [tag: string, name: string, before: string, after: string])[] = ${JSON.stringify(editionChanges, null, 0).replace(/\],\[/g, "],\n  [").replace(/^\[\[/, "[\n  [").replace(/\]\]$/, "],\n]")};

/**
 * RadioLens additions (scripts/gen-deid-profile.supplement.tsv): dictionary attributes the snapshot does not list
 * that hold identifying text, dates or order numbers; same layout as PROFILE_ROWS, consulted after it.
 *
 * @example
 * \`\`\`ts
 * PROFILE_SUPPLEMENT_ROWS.length; // ${supplementRows.length}
 * \`\`\`
 */
export const PROFILE_SUPPLEMENT_ROWS: readonly ProfileRowData[] = ${JSON.stringify(supplementRows, null, 0).replace(/\],\[/g, "],\n  [").replace(/^\[\[/, "[\n  [").replace(/\]\]$/, "],\n]")};

/**
 * PS3.15 Table E.3.10-1 (Safe Private Attributes): [group, element low byte, private creator, VR, VM, meaning].
 *
 * @example
 * \`\`\`ts
 * SAFE_PRIVATE_ROWS.length; // ${safeRows.length}
 * \`\`\`
 */
export const SAFE_PRIVATE_ROWS: readonly SafePrivateRowData[] = ${JSON.stringify(safeRows, null, 0).replace(/\],\[/g, "],\n  [").replace(/^\[\[/, "[\n  [").replace(/\]\]$/, "],\n]")};
`;
if (check) {
  // CI mode: the committed table must be exactly what the snapshots generate.
  const current = readFileSync(outPath, "utf8");
  if (current !== out) fail(`${outPath} is stale; run node scripts/gen-deid-profile.mjs`);
  console.log(`${outPath} is up to date (${profileRows.length} + ${safeRows.length} rows)`);
  process.exit(0);
}
const tmp = `${outPath}.${process.pid}.tmp`;
writeFileSync(tmp, out);
renameSync(tmp, outPath);
console.log(
  `wrote ${outPath}: ${profileRows.length} profile rows (${editionRows.length} of 2025a, ${keptFromPrevious.length} kept from 2021-2022, ${editionChanges.length} changed), ${supplementRows.length} supplement rows, ${safeRows.length} safe private rows`,
);
