/** Test helper: a private Orthanc as the PACS in front of a RadioLens service, the two joined by DICOM C-STORE both ways. */
import type { FastifyInstance } from "fastify";
import { createResultSender, startDimseServer } from "../../src/serve/dimse.js";
import type { ResultSender } from "../../src/serve/outbox.js";
import { type OrthancInstance, startOrthanc } from "./orthanc.js";
import { freePort } from "./shared-data.js";

/** A running Orthanc and RadioLens pair. */
export interface OrthancPacs {
  /** Knows RadioLens as the modality `radiolens` (`/modalities/radiolens/store` routes instances to it). */
  readonly orthanc: OrthancInstance;
  /** Listening on a free local port; its C-STORE SCP (AE title RADIOLENS) accepts associations from ORTHANC. */
  readonly app: FastifyInstance;
  /** Stops the SCP, the service and Orthanc, in that order. */
  close(): Promise<void>;
}

/**
 * Starts Orthanc with RadioLens as its modality `radiolens`, then the service `build` makes (handed Orthanc and a
 * C-STORE sender to it, calling AE title RADIOLENS, for its results) with its DIMSE SCP on the port Orthanc sends
 * to. Orthanc is stopped again when `build` or the start of the service fails.
 *
 * @example
 * ```ts
 * const pacs = await startOrthancPacs((_, cstore) => buildApp({ ...config, sendResult: cstore }));
 * await pacs.orthanc.rest("/modalities/radiolens/store", { Resources: [id], Synchronous: true });
 * await pacs.close();
 * ```
 */
export async function startOrthancPacs(
  build: (orthanc: OrthancInstance, cstore: ResultSender) => Promise<FastifyInstance>,
): Promise<OrthancPacs> {
  const scpPort = await freePort();
  const orthanc = await startOrthanc({ modalities: { radiolens: ["RADIOLENS", "127.0.0.1", scpPort] } });
  let app: FastifyInstance | undefined;
  try {
    app = await build(
      orthanc,
      createResultSender("RADIOLENS", { aeTitle: "ORTHANC", host: "127.0.0.1", port: orthanc.dicomPort }),
    );
    await app.listen({ host: "127.0.0.1", port: 0 });
    const scp = startDimseServer(app.radiolens, {
      aeTitle: "RADIOLENS",
      port: scpPort,
      allowedCallingAeTitles: ["ORTHANC"],
    });
    const started = app;
    return {
      orthanc,
      app: started,
      close: async () => {
        scp.close();
        await started.close();
        await orthanc.stop();
      },
    };
  } catch (e) {
    await app?.close();
    await orthanc.stop();
    throw e;
  }
}

/**
 * Orthanc's instances of a study, by its Study Instance UID (none when Orthanc does not have the study).
 *
 * @example
 * ```ts
 * (await orthancStudyInstances(orthanc, studyUid)).map((i) => i.ID);
 * ```
 */
export async function orthancStudyInstances(o: OrthancInstance, studyUid: string): Promise<{ ID: string }[]> {
  const found = await o.rest<{ Type: string; ID: string }[]>("/tools/lookup", studyUid);
  const study = found.find((f) => f.Type === "Study");
  return study ? o.rest<{ ID: string }[]>(`/studies/${study.ID}/instances`) : [];
}
