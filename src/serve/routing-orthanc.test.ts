/** Routing against a real Orthanc: a CT series routed slice by slice by Orthanc's C-STORE is segmented once after its completion timeout; the SEG and SR reach one Orthanc by C-STORE and another by STOW-RS. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { dciodvfyErrors } from "../../test/support/dciodvfy.js";
import { type OrthancInstance, startOrthanc } from "../../test/support/orthanc.js";
import {
  type OrthancPacs,
  orthancStudyInstances,
  startOrthancPacs,
} from "../../test/support/orthanc-pacs.js";
import { pydicomSegCheck } from "../../test/support/seg-check.js";
import { chestRadiograph, writeTestBundle } from "../../test/support/serve.js";
import { sharedData } from "../../test/support/shared-data.js";
import { ctSeries } from "../../test/support/synthetic-ct.js";
import { trainTinyUnet } from "../../test/support/tiny-unet.js";
import { initEngine, tf } from "../engine/backend.js";
import { parseDicom, seriesToVolume, writeDicom } from "../io/dicom/index.js";
import { sourceSeriesOf } from "../results/source.js";
import { loadSeg3DModel } from "../train/seg3d.js";
import { predictVolume } from "../train/seg3d-infer.js";
import { buildApp } from "./app.js";
import { ingestInstance } from "./ingest.js";
import { allOf } from "./server.js";
import { createStowSender } from "./stow-client.js";

const work = mkdtempSync(join(tmpdir(), "rl-routing-test-"));
const SLICES = 8;
const SIZE = 32;
const TIMEOUT_S = 3;
// The study arrives in one Orthanc job of 17 C-STOREs: on a loaded machine that takes seconds.
const STUDY_TIMEOUT_S = 8;
const SEG_CLASS = "1.2.840.10008.5.1.4.1.1.66.4";
const SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.33";
let pacs: OrthancInstance; // the modality router and the C-STORE destination
let web: OrthancInstance; // the STOW-RS destination
let app: FastifyInstance;
let linked: OrthancPacs | undefined;

async function byClass(o: OrthancInstance, studyUid: string, want: number): Promise<Map<string, string>> {
  const deadline = Date.now() + 120_000;
  let got: { ID: string }[] = [];
  while (Date.now() < deadline) {
    got = await orthancStudyInstances(o, studyUid);
    if (got.length >= want) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  const out = new Map<string, string>();
  for (const i of got) {
    out.set((await o.text(`/instances/${i.ID}/content/0008-0016`)).replace(/[\0 ]+$/, ""), i.ID);
  }
  return out;
}

function dciodvfy(bytes: Uint8Array, name: string): { errors: string[]; output: string } {
  const path = join(work, name);
  writeFileSync(path, bytes);
  return dciodvfyErrors(path);
}

before(async () => {
  await initEngine();
  await trainTinyUnet(work, SLICES, SIZE);
  await writeTestBundle(join(work, "cxr"));
  web = await startOrthanc();
  linked = await startOrthancPacs((_, cstore) =>
    buildApp({
      models: [
        { dir: join(work, "unet"), id: "unet" },
        { dir: join(work, "cxr"), id: "cxr", results: ["measurement-report"] },
      ],
      dataDir: join(work, "data"),
      auth: { apiKeys: [{ id: "a", role: "admin", key: "admin-key-0123456789" }] },
      routing: {
        rules: [
          {
            name: "ct-seg",
            match: {
              callingAeTitles: ["ORTHANC"],
              modalities: ["CT"],
              seriesDescription: "synthetic*",
              sopClassUids: ["1.2.840.10008.5.1.4.1.1.2"],
            },
            models: ["unet"],
            level: "series",
            completionTimeoutSeconds: TIMEOUT_S,
            destinations: [],
          },
          {
            name: "ct-study",
            match: { callingAeTitles: ["ORTHANC"], modalities: ["CT"], seriesDescription: "study ?" },
            models: ["unet"],
            level: "study",
            completionTimeoutSeconds: STUDY_TIMEOUT_S,
            destinations: [],
          },
          {
            name: "cxr",
            match: { modalities: ["CR", "DX"] },
            models: ["cxr"],
            level: "instance",
            completionTimeoutSeconds: 30,
            destinations: [],
          },
        ],
        senders: new Map([
          ["ct-study", cstore],
          ["ct-seg", allOf([cstore, createStowSender({ url: `${web.url}/dicom-web` })])],
        ]),
        pollMs: 200,
      },
    }),
  );
  ({ orthanc: pacs, app } = linked);
});

after(async () => {
  await linked?.close();
  await web?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("routing with Orthanc as the PACS", () => {
  it("a CT series C-STOREd slice by slice is segmented once after its completion timeout; SEG and SR reach Orthanc by C-STORE and STOW-RS", async () => {
    const { files, study } = ctSeries(SLICES, SIZE, 21);
    const ids: string[] = [];
    for (const f of files) ids.push((await pacs.rest<{ ID: string }>("/instances", f)).ID);
    const repo = app.radiolens.repo;
    // Orthanc routes the slices one association at a time, as a modality sends them, 0.3 s apart (< timeout).
    let lastSent = 0;
    for (const id of ids) {
      const job = await pacs.rest<{ Failed?: number }>("/modalities/radiolens/store", {
        Resources: [id],
        Synchronous: true,
      });
      assert.equal(job.Failed ?? 0, 0);
      lastSent = Date.now();
      assert.equal(await repo.countJobs("pending"), 0, "nothing is analysed while the series is arriving");
      assert.equal(await repo.countPredictions(), 0);
      await new Promise((r) => setTimeout(r, 300));
    }
    const [group] = await repo.listGroups(10);
    assert.equal(group?.instances, SLICES);

    // SEG + SR in the C-STORE destination (beside the 8 slices) and in the STOW-RS destination.
    const atPacs = await byClass(pacs, study, SLICES + 2);
    const atWeb = await byClass(web, study, 2);
    const segId = atPacs.get(SEG_CLASS);
    const srId = atPacs.get(SR_CLASS);
    assert.ok(segId && srId, [...atPacs.keys()].join(", "));
    assert.ok(atWeb.get(SEG_CLASS) && atWeb.get(SR_CLASS), "STOW-RS delivered both");

    const jobs = await repo.listJobs(100);
    assert.equal(jobs.length, 1, "one analysis for the whole series");
    const job = jobs[0];
    assert.equal(job?.scope?.startsWith("series:"), true);
    assert.ok(
      Date.parse(job?.createdAt ?? "") >= lastSent + TIMEOUT_S * 1000 - 50,
      "queued only after the completion timeout",
    );
    assert.equal(await repo.countPredictions(), 1);
    const [pred] = await repo.predictionsFor(job?.sopInstanceUid ?? "");
    assert.match(
      pred?.label ?? "",
      /^Segmentation of 1 series \(8 slices\): organ \d+ voxels, lesion \d+ voxels$/,
    );
    assert.deepEqual(pred?.probabilities, {}, "no voxel count passes for a probability");

    // The SEG frames, read back from Orthanc and decoded by pydicom, are the mask the model gives the volume.
    const parsed = files.map((f) => parseDicom(f));
    const series = sourceSeriesOf(parsed);
    const m = await loadSeg3DModel(join(work, "unet"));
    const before = tf.memory().numTensors;
    const mask = predictVolume(m.model, m.plan, (await seriesToVolume(parsed)).image, { mirror: true });
    assert.equal(tf.memory().numTensors, before);
    m.model.dispose();
    const expected = Uint8Array.from(mask.data);
    assert.ok(
      expected.some((v) => v === 1),
      "the tiny model finds the organ (a non-empty mask makes the comparison meaningful)",
    );
    const segBytes = await pacs.bytes(`/instances/${segId}/file`);
    const check = pydicomSegCheck(segBytes, series, [1, 2], expected);
    assert.ok(check.ok, check.problems.join("; "));
    const seg = parseDicom(segBytes).dataset;
    assert.equal(seg.uid("FrameOfReferenceUID"), parsed[0]?.dataset.uid("FrameOfReferenceUID"));
    assert.equal(
      seg.items("ReferencedSeriesSequence")[0]?.uid("SeriesInstanceUID"),
      parsed[0]?.dataset.uid("SeriesInstanceUID"),
    );
    assert.equal(seg.items("ContributingEquipmentSequence")[0]?.string("Manufacturer"), "RadioLens");
    const segCheck = dciodvfy(segBytes, "seg.dcm");
    assert.deepEqual(segCheck.errors, [], segCheck.output);

    // The SR: TID 1500 volumes per segment, referencing the SEG.
    const srBytes = await pacs.bytes(`/instances/${srId}/file`);
    const srCheck = dciodvfy(srBytes, "sr.dcm");
    assert.deepEqual(srCheck.errors, [], srCheck.output);
    const sr = parseDicom(srBytes).dataset;
    assert.equal(sr.items("ContentTemplateSequence")[0]?.string("TemplateIdentifier"), "1500");
    const evidence = sr
      .items("CurrentRequestedProcedureEvidenceSequence")
      .flatMap((s) => s.items("ReferencedSeriesSequence"))
      .flatMap((s) => s.items("ReferencedSOPSequence"))
      .map((s) => s.uid("ReferencedSOPInstanceUID"));
    assert.ok(evidence.includes(seg.uid("SOPInstanceUID")), "the SR references the SEG");
    const srText = Buffer.from(srBytes).toString("latin1");
    assert.match(srText, /Volume/);
  });

  it("routes by AE, Modality and SOP class: a radiograph goes to the classifier, unmatched instances are stored and audited 'not routed'", async () => {
    const repo = app.radiolens.repo;
    const before = await repo.listJobs(100);
    // A chest radiograph from Orthanc: the instance-level "cxr" rule.
    const cr = chestRadiograph(sharedData("xray", "COVID-00003b.jpg"));
    const crId = (await pacs.rest<{ ID: string }>("/instances", cr)).ID;
    await pacs.rest("/modalities/radiolens/store", { Resources: [crId], Synchronous: true });
    const crUid = parseDicom(cr).dataset.uid("SOPInstanceUID") as string;
    const after = await repo.listJobs(100);
    const crJob = after.find((j) => j.sopInstanceUid === crUid);
    assert.equal(crJob?.modelId, "cxr");
    assert.equal(crJob?.rule, "cxr");
    assert.equal(crJob?.scope, null);
    // The same CT series by STOW-RS has no calling AE title, and an MR from Orthanc matches no Modality:
    // both stored, neither analysed, each audited "not routed".
    const { files } = ctSeries(3, 16, 31);
    for (const f of files) {
      const r = await ingestInstance(app.radiolens, f, {
        via: "stow",
        user: "a",
        role: "admin",
        source: "test",
      });
      assert.ok(r.ok);
    }
    const mrBytes = new Uint8Array(readFileSync(sharedData("dicom", "pydicom", "MR_small.dcm")));
    const mrUid = parseDicom(mrBytes).dataset.uid("SOPInstanceUID") as string;
    const mrId = (await pacs.rest<{ ID: string }>("/instances", mrBytes)).ID;
    await pacs.rest("/modalities/radiolens/store", { Resources: [mrId], Synchronous: true });
    assert.ok(await repo.getInstance(mrUid), "the unrouted MR is stored");
    for (const f of files)
      assert.ok(await repo.getInstance(parseDicom(f).dataset.uid("SOPInstanceUID") as string));
    const jobsNow = await repo.listJobs(100);
    assert.equal(jobsNow.length, before.length + 1, "only the radiograph queued a job");
    await new Promise((r) => setTimeout(r, TIMEOUT_S * 1000 + 500));
    assert.equal((await repo.listJobs(100)).length, before.length + 1, "and no group was opened for them");
    const audit = await repo.listAudit(200, "110104");
    const notRouted = audit.filter((a) => a.detail.includes("not routed"));
    assert.equal(notRouted.length, 4, "three STOW-RS slices and the MR");
    assert.ok(notRouted.every((a) => !a.detail.includes(mrUid) && !a.detail.includes("Synthetic")));
    assert.ok(audit.some((a) => a.detail.includes("routed by rule 'cxr'")));
  });

  it("a series whose slices disagree in geometry is refused once complete, with the reason audited, and nothing is sent", async () => {
    const repo = app.radiolens.repo;
    const { files, study } = ctSeries(4, 16, 51);
    // One slice tilted: another Image Orientation (Patient) than the rest of the series.
    const tilted = parseDicom(files[1] as Uint8Array);
    tilted.dataset.setNumbers("ImageOrientationPatient", [1, 0, 0, 0, 0.8, 0.6], "DS");
    const sent = files.map((f, i) => (i === 1 ? writeDicom(tilted) : f));
    const ids: string[] = [];
    for (const f of sent) ids.push((await pacs.rest<{ ID: string }>("/instances", f)).ID);
    await pacs.rest("/modalities/radiolens/store", { Resources: ids, Synchronous: true });
    const deadline = Date.now() + 60_000;
    let failed = await repo.listJobs(10, "failed");
    while (Date.now() < deadline && failed.length === 0) {
      await new Promise((r) => setTimeout(r, 200));
      failed = await repo.listJobs(10, "failed");
    }
    assert.equal(failed.length, 1, "failed for good at once: a permanent error is not retried");
    assert.equal(failed[0]?.attempts, 1);
    assert.match(failed[0]?.error ?? "", /DICOM_SERIES/);
    const audit = await repo.listAudit(50, "110103");
    const reason = audit.find((a) => a.detail.startsWith("series not analysed (rule 'ct-seg')"));
    assert.ok(reason, audit.map((a) => a.detail).join(" | "));
    assert.match(reason.detail, /Image Orientation/);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await orthancStudyInstances(pacs, study)).length, 4, "no result reached the PACS");
  });

  it("a study-level rule waits for the whole study and segments each of its series once", async () => {
    const repo = app.radiolens.repo;
    const { files, study } = ctSeries(SLICES, SIZE, 61);
    // Two series of one study (another Series Instance UID and SOP Instance UIDs for the second), sent together.
    const sent: Uint8Array[] = [];
    for (const [k, f] of files.entries()) {
      const a = parseDicom(f);
      a.dataset.setString("SeriesDescription", "study A");
      sent.push(writeDicom(a));
      const b = parseDicom(f);
      const sop = `${study}.3.${k + 1}`;
      b.dataset.setString("SeriesInstanceUID", `${study}.3`);
      b.dataset.setString("SOPInstanceUID", sop);
      b.meta.setString("MediaStorageSOPInstanceUID", sop);
      b.dataset.setString("SeriesDescription", "study B");
      sent.push(writeDicom(b));
    }
    // And a radiograph in the same study: no volume, left out of the study's segmentation (and audited).
    // (The phantom's patient: Orthanc files a study under its Patient ID.)
    const cr = parseDicom(chestRadiograph(sharedData("xray", "COVID-00003b.jpg"), "PHANTOM61"));
    cr.dataset.setString("StudyInstanceUID", study);
    sent.push(writeDicom(cr));
    const before = (await repo.listJobs(1000)).length;
    const ids: string[] = [];
    for (const f of sent) ids.push((await pacs.rest<{ ID: string }>("/instances", f)).ID);
    await pacs.rest("/modalities/radiolens/store", { Resources: ids, Synchronous: true });
    const classes = await byClass(pacs, study, 2 * SLICES + 1 + 4);
    const group = (await repo.listGroups(10)).find((g) => g.level === "study");
    // The radiograph is routed by the "cxr" rule (first match): the study's group counts the CT slices only.
    assert.deepEqual([group?.instances, group?.lateInstances], [2 * SLICES, 0], "the whole study in time");
    const all = await orthancStudyInstances(pacs, study);
    assert.equal(
      all.length,
      2 * SLICES + 1 + 4,
      "two SEGs and two SRs beside the two series and the radiograph",
    );
    assert.ok(classes.has(SEG_CLASS) && classes.has(SR_CLASS));
    const listed = await repo.listJobs(1000); // newest first
    const jobs = listed.slice(0, listed.length - before).filter((j) => j.scope !== null);
    assert.equal(jobs.length, 1, "one job for the study");
    assert.equal(jobs[0]?.scope, `study:${study}`);
    assert.equal(jobs[0]?.rule, "ct-study");
    assert.equal(jobs[0]?.status, "done");
    const [pred] = await repo.predictionsFor(jobs[0]?.sopInstanceUid ?? "");
    assert.match(pred?.label ?? "", /^Segmentation of 2 series/);
    const audit = await repo.listAudit(50, "110103");
    assert.ok(
      audit.some((a) => a.detail.startsWith("series of the study left out (rule 'ct-study'): DICOM_SERIES")),
    );
    assert.match((await repo.listGroups(10)).find((g) => g.level === "study")?.groupUid ?? "", /^[0-9.]+$/);
  });
});
