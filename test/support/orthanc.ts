/** Test helper: a private Orthanc (Debian `orthanc` + `orthanc-dicomweb`) on free ports with a temporary configuration and storage. */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./shared-data.js";

const BINARY = "/usr/sbin/Orthanc";
const DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so";

/** A running Orthanc. */
export interface OrthancInstance {
  readonly aeTitle: string;
  readonly dicomPort: number;
  /** REST base URL (no trailing slash); DICOMweb is under `${url}/dicom-web`. */
  readonly url: string;
  /** GET/POST on the REST API: JSON out; a string body is sent as text, a Uint8Array as DICOM, else as JSON. */
  rest<T = unknown>(path: string, body?: unknown): Promise<T>;
  /** The raw bytes of a REST resource (e.g. `/instances/{id}/file`). */
  bytes(path: string): Promise<Uint8Array>;
  /** A REST resource as text (e.g. `/instances/{id}/content/0008-0016`). */
  text(path: string): Promise<string>;
  stop(): Promise<void>;
}

/** Options of {@link startOrthanc}. */
export interface OrthancOptions {
  /** DICOM peers Orthanc may send to, by name: AE title, host, port. */
  readonly modalities?: Readonly<Record<string, readonly [string, string, number]>>;
  /** DICOMweb servers Orthanc's client may query, by name. */
  readonly dicomWebServers?: Readonly<Record<string, { Url: string; HttpHeaders?: Record<string, string> }>>;
}

/**
 * Starts Orthanc with its own configuration (AE title ORTHANC, loopback only, no authentication, the DICOMweb
 * plugin) and storage in a temporary folder, and resolves once its REST API answers. A missing Orthanc is a
 * failure, not a skip: scripts/setup.sh installs it.
 *
 * @throws Error when Orthanc is not installed or does not start within 30 s.
 * @example
 * ```ts
 * const orthanc = await startOrthanc({ modalities: { radiolens: ["RADIOLENS", "127.0.0.1", 11112] } });
 * await orthanc.stop();
 * ```
 */
export async function startOrthanc(opts: OrthancOptions = {}): Promise<OrthancInstance> {
  if (!existsSync(BINARY) || !existsSync(DICOMWEB_PLUGIN)) {
    throw new Error("Orthanc is not installed: run scripts/setup.sh (orthanc, orthanc-dicomweb)");
  }
  const dir = mkdtempSync(join(tmpdir(), "rl-orthanc-"));
  mkdirSync(join(dir, "db"));
  const dicomPort = await freePort();
  const httpPort = await freePort();
  const config = {
    Name: "RadioLens test PACS",
    StorageDirectory: join(dir, "db"),
    IndexDirectory: join(dir, "db"),
    Plugins: [DICOMWEB_PLUGIN],
    HttpServerEnabled: true,
    HttpPort: httpPort,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    OrthancExplorerEnabled: false,
    WebDavEnabled: false,
    DicomServerEnabled: true,
    DicomAet: "ORTHANC",
    DicomPort: dicomPort,
    DicomCheckCalledAet: true,
    DicomAlwaysAllowStore: true,
    DicomAlwaysAllowEcho: true,
    DicomModalities: opts.modalities ?? {},
    ConcurrentJobs: 1,
    StableAge: 1,
    LuaScripts: [],
    DicomWeb: { Enable: true, Root: "/dicom-web/", Servers: opts.dicomWebServers ?? {} },
  };
  writeFileSync(join(dir, "orthanc.json"), JSON.stringify(config));
  const child: ChildProcess = spawn(BINARY, [join(dir, "orthanc.json")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  // A test process that dies (an uncaught error) must not leave its Orthanc running.
  const killOnExit = (): void => {
    child.kill("SIGKILL");
  };
  process.once("exit", killOnExit);
  child.once("exit", () => process.off("exit", killOnExit));
  let log = "";
  child.stderr?.on("data", (c: Buffer) => {
    log = (log + c.toString()).slice(-8000);
  });
  const url = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Orthanc exited with ${child.exitCode}: ${log}`);
    try {
      const r = await fetch(`${url}/system`);
      if (r.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`Orthanc did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  // One connection per request (node:http without an agent sends "Connection: close"): with a pooled
  // keep-alive connection, Orthanc may close it after its idle timeout just as the client reuses it.
  const call = (path: string, body?: unknown): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const [payload, type] =
        body === undefined
          ? [undefined, undefined]
          : body instanceof Uint8Array
            ? [Buffer.from(body), "application/dicom"]
            : typeof body === "string"
              ? [Buffer.from(body), "text/plain"]
              : [Buffer.from(JSON.stringify(body)), "application/json"];
      const req = request(
        `${url}${path}`,
        {
          method: payload ? "POST" : "GET",
          agent: false,
          headers: payload ? { "content-type": type, "content-length": payload.length } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const out = Buffer.concat(chunks);
            if ((res.statusCode ?? 500) >= 300) {
              reject(new Error(`Orthanc ${path}: HTTP ${res.statusCode} ${out.toString("utf8")}`));
            } else resolve(out);
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  return {
    aeTitle: "ORTHANC",
    dicomPort,
    url,
    rest: async <T>(path: string, body?: unknown) =>
      JSON.parse((await call(path, body)).toString("utf8")) as T,
    bytes: async (path: string) => new Uint8Array(await call(path)),
    text: async (path: string) => (await call(path)).toString("latin1"),
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
