/** DICOM networking (PS3.7/PS3.8) with dcmjs-dimse: a C-STORE SCP with a calling-AE allowlist, and a C-STORE SCU for results. */
import { createRequire } from "node:module";
import { Writable } from "node:stream";
import type * as DimseTypes from "dcmjs-dimse";
import { RadioLensError } from "../core/errors.js";
import { isKnownTransferSyntax } from "../io/dicom/index.js";
import { IMPLEMENTATION_CLASS_UID } from "../io/dicom/write.js";
import type { ServiceContext } from "./context.js";
import { ingestInstance } from "./ingest.js";
import type { ResultSender } from "./outbox.js";

const require = createRequire(import.meta.url);
const dimse = require("dcmjs-dimse") as typeof DimseTypes;
// The library logs datasets and AE titles at info level; the service logs its own lines without DICOM values.
dimse.log.setLevel("silent");

/** DIMSE settings. */
export interface DimseConfig {
  /** Our AE title (default "RADIOLENS"). */
  readonly aeTitle: string;
  readonly port: number;
  readonly host?: string;
  /** Calling AE titles allowed to associate; every other one is rejected (PS3.8 7.1.1.9 reason 3). */
  readonly allowedCallingAeTitles: readonly string[];
  /** Largest instance accepted over the network, in bytes (default 256 MiB). */
  readonly maxInstanceBytes?: number;
  /** Where results go by C-STORE, if anywhere. */
  readonly destination?: { readonly aeTitle: string; readonly host: string; readonly port: number };
}

const STORAGE_PREFIX = "1.2.840.10008.5.1.4.1.1.";
const VERIFICATION = "1.2.840.10008.1.1";

function pad(s: string, even: number): Buffer {
  const b = Buffer.from(s, "latin1");
  return b.length % 2 === 0 ? b : Buffer.concat([b, Buffer.from([even])]);
}

function explicitEl(group: number, element: number, vr: string, value: Buffer): Buffer {
  const h = Buffer.alloc(vr === "OB" ? 12 : 8);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(element, 2);
  h.write(vr, 4, "latin1");
  if (vr === "OB") h.writeUInt32LE(value.length, 8);
  else h.writeUInt16LE(value.length, 6);
  return Buffer.concat([h, value]);
}

/**
 * Wraps a dataset received over the network in a Part 10 file: preamble, "DICM" and File Meta Information
 * (PS3.10 7.1) in Explicit VR Little Endian, with the transfer syntax the association negotiated.
 *
 * @example
 * ```ts
 * const file = part10(datasetBytes, sopClassUid, sopInstanceUid, "1.2.840.10008.1.2", "MODALITY");
 * ```
 */
export function part10(
  dataset: Uint8Array,
  sopClassUid: string,
  sopInstanceUid: string,
  transferSyntaxUid: string,
  sourceAeTitle: string,
): Uint8Array {
  const els = [
    explicitEl(2, 0x0001, "OB", Buffer.from([0, 1])),
    explicitEl(2, 0x0002, "UI", pad(sopClassUid, 0)),
    explicitEl(2, 0x0003, "UI", pad(sopInstanceUid, 0)),
    explicitEl(2, 0x0010, "UI", pad(transferSyntaxUid, 0)),
    explicitEl(2, 0x0012, "UI", pad(IMPLEMENTATION_CLASS_UID, 0)),
    explicitEl(2, 0x0013, "SH", pad("RADIOLENS", 0x20)),
    explicitEl(2, 0x0016, "AE", pad(sourceAeTitle.trim(), 0x20)),
  ];
  const body = Buffer.concat(els);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(body.length);
  return Buffer.concat([
    Buffer.alloc(128),
    Buffer.from("DICM", "latin1"),
    explicitEl(2, 0x0000, "UL", len),
    body,
    Buffer.from(dataset.buffer, dataset.byteOffset, dataset.byteLength),
  ]);
}

/** Collects a C-STORE's dataset bytes as received, refusing more than the limit. */
class Collector extends Writable {
  readonly chunks: Buffer[] = [];
  size = 0;
  tooLarge = false;
  constructor(
    private readonly limit: number,
    readonly transferSyntaxUid: string,
  ) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.size += chunk.length;
    if (this.size > this.limit) this.tooLarge = true;
    else this.chunks.push(chunk);
    cb();
  }
}

/** A running SCP. */
export interface DimseServer {
  close(): void;
}

/**
 * Starts the C-STORE SCP. An association is accepted only from an allowed calling AE title and to our called AE
 * title; storage SOP classes (PS3.4 B.5) and Verification are accepted in the transfer syntaxes the parser reads.
 * Each instance is written durably and indexed before the C-STORE response reports Success (0x0000); a
 * malformed one gets 0xC000 (cannot understand), an oversized one 0xA700.
 *
 * @example
 * ```ts
 * const scp = startDimseServer(app.radiolens, { aeTitle: "RADIOLENS", port: 11112, allowedCallingAeTitles: ["MODALITY"] });
 * ```
 */
export function startDimseServer(ctx: ServiceContext, cfg: DimseConfig): DimseServer {
  const { Scp, Server, Dataset } = dimse;
  const { Status, PresentationContextResult, RejectResult, RejectSource, RejectReason } = dimse.constants;
  const { CStoreResponse, CEchoResponse } = dimse.responses;
  const allowed = new Set(cfg.allowedCallingAeTitles.map((a) => a.trim()));
  const limit = cfg.maxInstanceBytes ?? 256 * 1024 * 1024;
  const raws = new WeakMap<object, { bytes: Buffer; tooLarge: boolean; ts: string }>();

  class RadioLensScp extends Scp {
    private association: DimseTypes.association.Association | undefined;

    override associationRequested(association: DimseTypes.association.Association): void {
      this.association = association;
      const calling = association.getCallingAeTitle().trim();
      if (association.getCalledAeTitle().trim() !== cfg.aeTitle) {
        this.reject(calling, "called AE title", RejectReason.CalledAeNotRecognized);
        return;
      }
      if (!allowed.has(calling)) {
        this.reject(calling, "calling AE title not configured", RejectReason.CallingAeNotRecognized);
        return;
      }
      for (const c of association.getPresentationContexts()) {
        const pc = association.getPresentationContext(c.id);
        const abstract = pc.getAbstractSyntaxUid();
        if (abstract !== VERIFICATION && !abstract.startsWith(STORAGE_PREFIX)) {
          pc.setResult(PresentationContextResult.RejectAbstractSyntaxNotSupported);
          continue;
        }
        const offered = pc.getTransferSyntaxUids();
        // The SCU lists its preference first (the file's own syntax for storescu -R); keeping it avoids a transcode.
        const pick = offered.find((t: string) => isKnownTransferSyntax(t));
        if (pick) pc.setResult(PresentationContextResult.Accept, pick);
        else pc.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
      }
      this.sendAssociationAccept();
    }

    private reject(calling: string, why: string, reason: number): void {
      // The rejection does not wait for the audit write; a store failure here is logged by the next store call.
      void ctx.repo
        .audit({
          eventId: "110114",
          eventName: "User Authentication",
          action: "E",
          outcome: 4,
          user: `ae:${calling}`,
          role: "",
          source: "dimse",
          object: "association",
          detail: `association rejected: ${why}`,
        })
        .catch(() => {});
      this.sendAssociationReject(RejectResult.Permanent, RejectSource.ServiceUser, reason);
    }

    override associationReleaseRequested(): void {
      this.sendAssociationReleaseResponse();
    }

    override cEchoRequest(
      request: DimseTypes.requests.CEchoRequest,
      callback: (r: DimseTypes.responses.CEchoResponse) => void,
    ): void {
      const r = CEchoResponse.fromRequest(request);
      r.setStatus(Status.Success);
      callback(r);
    }

    override createStoreWritableStream(
      pc: DimseTypes.association.PresentationContext,
      request: DimseTypes.requests.CStoreRequest,
    ): Writable {
      void request;
      return new Collector(limit, pc.getAcceptedTransferSyntaxUid() ?? "");
    }

    override createDatasetFromStoreWritableStream(
      w: Writable,
      _pc: DimseTypes.association.PresentationContext,
      callback: (dataset: DimseTypes.Dataset) => void,
    ): void {
      // The bytes are kept as received, keyed by the placeholder dataset; dcmjs never re-encodes them.
      const c = w as Collector;
      const ds = new Dataset({});
      raws.set(ds, { bytes: Buffer.concat(c.chunks), tooLarge: c.tooLarge, ts: c.transferSyntaxUid });
      callback(ds);
    }

    override cStoreRequest(
      request: DimseTypes.requests.CStoreRequest,
      callback: (r: DimseTypes.responses.CStoreResponse) => void,
    ): void {
      const response = CStoreResponse.fromRequest(request);
      const raw = raws.get(request.getDataset() as object);
      const calling = this.association?.getCallingAeTitle().trim() ?? "";
      if (!raw || raw.tooLarge) {
        response.setStatus(0xa700);
        callback(response);
        return;
      }
      const file = part10(
        raw.bytes,
        request.getAffectedSopClassUid(),
        request.getAffectedSopInstanceUid(),
        raw.ts,
        calling,
      );
      // The response waits for the durable commit (PS3.4 B.2.3: Success means stored).
      ingestInstance(ctx, file, {
        via: "dimse",
        user: `ae:${calling}`,
        role: "modality",
        source: "dimse",
        callingAeTitle: calling,
      })
        .then(
          (r) => response.setStatus(r.ok ? Status.Success : r.reason),
          () => response.setStatus(0xa700),
        )
        .finally(() => callback(response));
    }
  }

  const server = new Server(RadioLensScp);
  server.on("networkError", () => {
    // Broken peers are their problem; the SCP keeps listening.
  });
  server.listen(cfg.port, { associationTimeout: 30_000, pduTimeout: 30_000 });
  return { close: () => server.close() };
}

/**
 * A C-STORE SCU that sends one Part 10 file (by path) to `dest` and resolves with the DIMSE status (0 = success).
 *
 * @example
 * ```ts
 * const send = createResultSender("RADIOLENS", { aeTitle: "PACS", host: "127.0.0.1", port: 104 });
 * await send("/data/instances/ab/ab12....dcm");
 * ```
 */
export function createResultSender(
  callingAeTitle: string,
  dest: { readonly aeTitle: string; readonly host: string; readonly port: number },
  timeoutMs = 10_000,
): ResultSender {
  return (path) =>
    new Promise<number>((resolve, reject) => {
      const client = new dimse.Client();
      const request = new dimse.requests.CStoreRequest(path);
      let status: number | undefined;
      const timer = setTimeout(() => {
        reject(new RadioLensError("RL_ERR_TIMEOUT", { ms: timeoutMs }));
      }, timeoutMs);
      request.on("response", (r: DimseTypes.responses.CStoreResponse) => {
        status = r.getStatus();
      });
      client.on("networkError", (e: Error) => {
        clearTimeout(timer);
        reject(e);
      });
      client.on("associationRejected", () => {
        clearTimeout(timer);
        reject(
          new RadioLensError("RL_ERR_IO", {
            path: `${dest.aeTitle}@${dest.host}:${dest.port}`,
            detail: "association rejected",
          }),
        );
      });
      client.on("closed", () => {
        clearTimeout(timer);
        if (status === undefined)
          reject(new RadioLensError("RL_ERR_IO", { path: dest.aeTitle, detail: "no C-STORE response" }));
        else resolve(status);
      });
      client.addRequest(request);
      client.send(dest.host, dest.port, callingAeTitle, dest.aeTitle, {
        connectTimeout: 5000,
        associationTimeout: timeoutMs,
      });
    });
}
