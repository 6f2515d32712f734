/** Test helper: the stores a repository test runs against (SQLite files, databases on a throwaway PostgreSQL cluster) and an instance record to add to them. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import type { InstanceRecord } from "../../src/serve/repository/sqlite.js";
import { type PostgresCluster, startPostgresCluster } from "./postgres.js";

/** Where a test file's stores live. */
export interface RepositoryHarness {
  /** The file's temporary folder, removed after its tests. */
  readonly work: string;
  /** The file's PostgreSQL cluster; fails when it is not running (before the file's tests start, or stopped). */
  cluster(): PostgresCluster;
  /** Each store kind with a fresh location per call: a new SQLite file in `work`, or a new database on the cluster. */
  readonly places: readonly (readonly ["SQLite" | "PostgreSQL", () => Promise<string>])[];
}

/**
 * Registers the test file's `before`/`after` hooks: a temporary folder named after `name`, and a PostgreSQL
 * cluster started before the file's tests (failing, never skipping, when the server binaries are missing: the
 * message names the package) and removed with the folder after them.
 *
 * @example
 * ```ts
 * const { places } = repositoryHarness("groups");
 * for (const [kind, place] of places) test(kind, async () => (await openRepository(await place())).close());
 * ```
 */
export function repositoryHarness(name: string): RepositoryHarness {
  const work = mkdtempSync(join(tmpdir(), `rl-${name}-`));
  let running: PostgresCluster | undefined;
  let databases = 0;
  before(() => {
    running = startPostgresCluster();
  });
  after(() => {
    running?.stop();
    running = undefined;
    rmSync(work, { recursive: true, force: true });
  });
  const cluster = (): PostgresCluster => {
    assert.ok(running, "the PostgreSQL cluster is running");
    return running;
  };
  return {
    work,
    cluster,
    places: [
      ["SQLite", async () => join(work, `${name}${databases++}.db`)],
      ["PostgreSQL", async () => cluster().createDatabase(`${name}_${databases++}`)],
    ],
  };
}

/**
 * An instance record numbered `n` (its SHA-256 and file key from `n` unless `over` gives them): CT or MR by
 * parity, three studies and patients, received `n` seconds into 2024.
 *
 * @example
 * ```ts
 * await repo.addInstance(testInstance(1), ["m1"]);
 * testInstance(2, { modality: "CT" }).sopInstanceUid; // "1.2.826.0.1.2"
 * ```
 */
export function testInstance(n: number, over: Partial<InstanceRecord> = {}): InstanceRecord {
  const sha256 = over.sha256 ?? n.toString(16).padStart(64, "0");
  return {
    sopInstanceUid: `1.2.826.0.1.${n}`,
    sopClassUid: "1.2.840.10008.5.1.4.1.1.2",
    studyInstanceUid: `1.2.826.0.2.${n % 3}`,
    seriesInstanceUid: `1.2.826.0.3.${n % 3}.${n % 2}`,
    modality: n % 2 ? "CT" : "MR",
    studyDate: "20240101",
    patientId: `P${n % 3}`,
    patientName: "",
    accessionNumber: "",
    sha256,
    fileKey: `${sha256.slice(0, 2)}/${sha256}.dcm`,
    size: 1000 + n,
    origin: "received",
    receivedAt: new Date(Date.UTC(2024, 0, 1, 0, 0, n)).toISOString(),
    ...over,
  };
}
