/** The error catalogue: every code has an exit code and an HTTP status, and the server answers with that status. */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ERROR_CATALOGUE, type ErrorCode, RadioLensError } from "../core/errors.js";
import { DicomError } from "../io/dicom/index.js";
import { toHttpError } from "./errors.js";

const SRC = new URL("..", import.meta.url).pathname;

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith(".ts") && !name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

test("every catalogue code has a fix, a documented exit code and an HTTP error status; the server uses it", () => {
  for (const [code, spec] of Object.entries(ERROR_CATALOGUE)) {
    assert.ok(spec.fix.length > 10, `${code}: a fix`);
    assert.ok([1, 2, 3, 4, 5].includes(spec.exitCode), `${code}: exit code ${spec.exitCode}`);
    assert.ok(spec.httpStatus >= 400 && spec.httpStatus <= 599, `${code}: HTTP ${spec.httpStatus}`);
    const err = code.startsWith("DICOM_")
      ? new DicomError(code as ConstructorParameters<typeof DicomError>[0], "detail")
      : new RadioLensError(code as ErrorCode, { detail: "d" });
    const answer = toHttpError(err);
    assert.equal(answer.status, spec.httpStatus, code);
    assert.equal(answer.body.error.code, code);
  }
});

test("no catalogue code is left unused, and no code stands for unrelated failures across the library", () => {
  const text = sources(SRC)
    .filter((f) => !f.endsWith("core/errors.ts"))
    .map((f) => readFileSync(f, "utf8"))
    .join("\n");
  // Every code is raised somewhere (a code nobody throws is a code clients wait for in vain).
  for (const code of Object.keys(ERROR_CATALOGUE))
    assert.ok(text.includes(`"${code}"`), `${code} is in the catalogue but never raised`);
  // The generic data code was split into codes that say what failed (shape, labels, empty data, tables, ...).
  assert.ok(!("RL_ERR_DATA_INVALID" in ERROR_CATALOGUE));
});
