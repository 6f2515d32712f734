/** `radiolens serve`: runs the inference service (REST, DICOMweb, DIMSE) until SIGINT/SIGTERM. */
import { RadioLensError } from "../../core/errors.js";
import { loadServeConfig, startService } from "../../serve/server.js";
import { type Command, str, strs } from "../command.js";

function intOpt(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new RadioLensError("RL_ERR_USAGE", { detail: `--${name} must be a port number, got '${v}'` });
  return n;
}

/**
 * `radiolens serve`.
 *
 * @example
 * ```ts
 * await runCli(["serve", "--model", "models/default=default", "--allow-ae", "CT1"]);
 * ```
 */
export const serveCommand: Command = {
  help: `Usage: radiolens serve [--model DIR[=ID] ...] [--config serve.json] [--port 8080] [--host 127.0.0.1]
                       [--dicom-port 11112] [--ae-title RADIOLENS] [--allow-ae AE ...] [--data-dir DIR] [--store DSN|PATH] [--web DIR]

With no --model it serves the bundled reference model (npm run build:model) as 'default'. HTTP routes:
POST /v1/models/{id}/predict, GET /v1/models, /dicomweb/studies (STOW/QIDO/WADO), /healthz, /readyz, /metrics,
/openapi.json, /docs. DICOM C-STORE on --dicom-port as --ae-title, accepting only --allow-ae calling AE titles;
results go back as DICOM SR to dimse.destination of serve.json. Every route but /healthz needs an API key or a
JWT; with none configured an admin key is generated and printed once. Data (SQLite store, instances) lives in
--data-dir (default ./radiolens-data). --store postgres://user@host:5432/db keeps jobs, predictions, the result
outbox and the audit log in PostgreSQL instead (password from PGPASSWORD or ~/.pgpass), so several instances can
share one queue; they must then share --data-dir too (one network folder for the received instances). A bundle with model.onnx (radiolens export) runs on ONNX Runtime unless
--runtime tfjs; Grad-CAM uses the bundle's tfjs weights either way.`,
  options: {
    model: { type: "string", multiple: true },
    config: { type: "string" },
    port: { type: "string" },
    host: { type: "string" },
    "dicom-port": { type: "string" },
    "ae-title": { type: "string" },
    "allow-ae": { type: "string", multiple: true },
    "data-dir": { type: "string" },
    store: { type: "string" },
    web: { type: "string" },
    backend: { type: "string" },
    runtime: { type: "string" },
  },
  async run(args, io) {
    const models = strs(args, "model").map((m) => {
      const i = m.lastIndexOf("=");
      return i > 0 ? { dir: m.slice(0, i), id: m.slice(i + 1) } : { dir: m };
    });
    const dimse: Record<string, unknown> = {};
    const dp = intOpt(str(args, "dicom-port"), "dicom-port");
    if (dp !== undefined) dimse["port"] = dp;
    if (str(args, "ae-title")) dimse["aeTitle"] = str(args, "ae-title");
    if (strs(args, "allow-ae").length) dimse["allowedCallingAeTitles"] = strs(args, "allow-ae");
    const cfg = loadServeConfig(str(args, "config"), {
      ...(models.length ? { models } : {}),
      port: intOpt(str(args, "port"), "port"),
      host: str(args, "host"),
      dataDir: str(args, "data-dir"),
      store: str(args, "store"),
      webRoot: str(args, "web"),
      backend: str(args, "backend"),
      runtime: str(args, "runtime"),
      ...(Object.keys(dimse).length ? { dimse } : {}),
    });
    const svc = await startService(cfg);
    io.stderr(
      `radiolens serve: HTTP ${svc.url}${svc.dimse ? `, DICOM ${svc.dimse.aeTitle} on port ${svc.dimse.port}` : ""}\n`,
    );
    io.stderr(`models: ${[...svc.app.radiolens.models.keys()].join(", ")}; API docs at ${svc.url}/docs\n`);
    io.stderr(`store: ${svc.app.radiolens.repo.kind} ${svc.store}\n`);
    if (svc.dimse && cfg.dimse.allowedCallingAeTitles.length === 0) {
      io.stderr(
        "DICOM: no calling AE title is allowed yet, so every association is refused; add --allow-ae AE\n",
      );
    }
    if (svc.generatedAdminKey) {
      io.stderr(`no API keys configured: generated admin key (shown once): ${svc.generatedAdminKey}\n`);
    }
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        resolve();
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    await svc.close();
    return 0;
  },
};
