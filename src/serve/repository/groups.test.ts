/** Series/study grouping contract on SQLite and a real PostgreSQL: registered with each instance, queued once when complete, durable across a restart. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { repositoryHarness, testInstance } from "../../../test/support/repository.js";
import { openRepository } from "./open.js";
import type { GroupRegistration, InstanceRecord, Repository } from "./sqlite.js";

const { places } = repositoryHarness("groups");

const SERIES = "1.2.826.0.3.7";

/** Slice `n` of one CT series of one study and patient. */
const slice = (n: number, series = SERIES): InstanceRecord =>
  testInstance(n, {
    sopInstanceUid: `${series}.${n}`,
    studyInstanceUid: "1.2.826.0.2.7",
    seriesInstanceUid: series,
    modality: "CT",
    patientId: "P1",
  });

const group = (timeoutMs: number, series = SERIES): GroupRegistration => ({
  rule: "ct-seg",
  level: "series",
  groupUid: series,
  modelIds: ["unet"],
  timeoutMs,
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

for (const [name, place] of places) {
  describe(`series grouping: ${name}`, () => {
    test("a series waits for its completion timeout, is queued once as one job, and a late slice is reported", async () => {
      const repo = await openRepository(await place(), { leaseMs: 300 });
      try {
        for (let n = 1; n <= 3; n++) {
          const r = await repo.addRoutedInstance(slice(n), {
            rule: "ct-seg",
            modelIds: [],
            groups: [group(400)],
          });
          assert.deepEqual([r.outcome, r.late.length], ["stored", 0]);
        }
        const dup = await repo.addRoutedInstance(slice(3), {
          rule: "ct-seg",
          modelIds: [],
          groups: [group(400)],
        });
        assert.equal(dup.outcome, "duplicate");
        assert.equal(await repo.queueDueGroups(), 0, "not complete before its timeout");
        assert.equal(await repo.countJobs("pending"), 0);
        const [open] = await repo.listGroups(10);
        assert.equal(open?.status, "open");
        assert.equal(open?.instances, 3, "a duplicate is not a new arrival");
        await sleep(500);
        // Two passes at once (two processes): the group is queued by exactly one.
        const queued = await Promise.all([repo.queueDueGroups(), repo.queueDueGroups()]);
        assert.equal(queued[0] + queued[1], 1);
        assert.equal(await repo.queueDueGroups(), 0);
        const [job] = await repo.listJobs(10);
        assert.equal(job?.scope, `series:${SERIES}`);
        assert.equal(job?.rule, "ct-seg");
        assert.equal(job?.modelId, "unet");
        assert.equal(await repo.countJobs("pending"), 1);
        const late = await repo.addRoutedInstance(slice(4), {
          rule: "ct-seg",
          modelIds: [],
          groups: [group(400)],
        });
        assert.equal(late.late.length, 1, "the slice arrived after its series was queued");
        assert.equal((await repo.listGroups(10))[0]?.lateInstances, 1);
        await sleep(500);
        assert.equal(await repo.queueDueGroups(), 0, "a late slice does not queue the series again");
        assert.equal(await repo.countJobs("pending"), 1);
        // The job's results go to its rule's destinations: the outbox row names the rule.
        const claimed = await repo.claimJob();
        assert.ok(claimed);
        const res = slice(90, "1.2.826.0.9");
        assert.ok(
          await repo.completeJob(
            claimed.id,
            {
              sopInstanceUid: claimed.sopInstanceUid,
              modelId: "unet",
              modelVersion: "1",
              label: "Segmentation",
              probabilities: { organ: 10 },
              resultSopInstanceUid: res.sopInstanceUid,
            },
            [{ ...res, origin: "result" }],
            true,
          ),
        );
        const [send] = await repo.listSends(10);
        assert.equal(send?.rule, "ct-seg");
      } finally {
        await repo.close();
      }
    });

    test("a restart before the timeout loses nothing: the reopened store queues the series once", async () => {
      const where = await place();
      let repo: Repository = await openRepository(where, { leaseMs: 300 });
      for (let n = 1; n <= 2; n++) {
        await repo.addRoutedInstance(slice(n), { rule: "ct-seg", modelIds: [], groups: [group(300)] });
      }
      await repo.close();
      repo = await openRepository(where, { leaseMs: 300 });
      try {
        await repo.addRoutedInstance(slice(3), { rule: "ct-seg", modelIds: [], groups: [group(300)] });
        await sleep(400);
        assert.equal(await repo.queueDueGroups(), 1);
        assert.equal(await repo.countJobs("pending"), 1);
        assert.equal((await repo.listGroups(10))[0]?.instances, 3);
      } finally {
        await repo.close();
      }
    });
  });
}
