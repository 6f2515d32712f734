/** The service's GC setting: short-lived ArrayBuffers no longer drive full mark-compacts. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const MODULE = fileURLToPath(new URL("./gc-tuning.ts", import.meta.url));

/** Full collections (mark-compact, incremental marking) in a fresh process churning 1 GiB of 256 KiB buffers. */
function fullCollections(tuned: boolean): number {
  const code = `
    const { PerformanceObserver, constants } = await import("node:perf_hooks");
    if (${tuned}) (await import(${JSON.stringify(MODULE)})).tuneGarbageCollection();
    let full = 0;
    const FULL = constants.NODE_PERFORMANCE_GC_MAJOR | constants.NODE_PERFORMANCE_GC_INCREMENTAL;
    new PerformanceObserver((l) => { for (const e of l.getEntries()) if (e.detail.kind & FULL) full++; })
      .observe({ entryTypes: ["gc"] });
    let keep = 0;
    for (let i = 0; i < 4096; i++) { const b = new Uint8Array(256 * 1024); b[i % b.length] = 1; keep += b[0]; }
    await new Promise((r) => setTimeout(r, 200));
    process.stdout.write(String(full + keep * 0));
  `;
  const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    encoding: "utf8",
  });
  return Number(out.trim());
}

describe("tuneGarbageCollection", () => {
  it("cuts the full collections that a stream of short-lived ArrayBuffers causes at least fourfold", () => {
    const untuned = fullCollections(false);
    const tuned = fullCollections(true);
    assert.ok(untuned >= 8, `expected the default heap to collect often, got ${untuned} full collections`);
    assert.ok(tuned * 4 <= untuned, `tuned ${tuned} vs default ${untuned} full collections`);
  });
});
