/** `radiolens serve`: runs the inference service (REST, DICOMweb, DIMSE) until SIGINT/SIGTERM. */
import { loadServeConfig, startService } from "../../serve/server.js";
import { type Command, defineCommand } from "../command.js";
import { backendOption, int, list, runtimeOption, string } from "../options.js";

/**
 * `radiolens serve`.
 *
 * @example
 * ```ts
 * await runCli(["serve", "--model", "models/default=default", "--allow-ae", "CT1"]);
 * ```
 */
export const serveCommand: Command = defineCommand({
  usage: `radiolens serve [--model DIR[=ID] ...] [--config serve.json] [--port 8080] [--host 127.0.0.1]
                       [--dicom-port 11112] [--ae-title RADIOLENS] [--allow-ae AE ...] [--data-dir DIR] [--store DSN|PATH] [--web DIR]`,
  description: `With no --model it serves the bundled reference model (npm run build:model) as 'default'. HTTP routes:
POST /v1/models/{id}/predict, GET /v1/models, /dicomweb/studies (STOW/QIDO/WADO), /healthz, /readyz, /metrics,
/openapi.json, /docs. DICOM C-STORE on --dicom-port as --ae-title, accepting only --allow-ae calling AE titles;
results go back as DICOM SR to dimse.destination of serve.json. Every route but /healthz needs an API key or a
JWT; with none configured an admin key is generated and printed once. Data (SQLite store, instances) lives in
--data-dir (default ./radiolens-data). --store postgres://user@host:5432/db keeps jobs, predictions, the result
outbox and the audit log in PostgreSQL instead (password from PGPASSWORD or ~/.pgpass), so several instances can
share one queue; they must then share --data-dir too (one network folder for the received instances). A bundle with model.onnx (radiolens export) runs on ONNX Runtime unless
--runtime tfjs; Grad-CAM uses the bundle's tfjs weights either way.`,
  options: {
    model: list("DIR[=ID]", "a model bundle served as ID (default: the folder's name)"),
    config: string("FILE", "serve.json (flags override it)"),
    port: int("PORT", "HTTP port (0 = any free port)", { min: 0, max: 65535 }),
    host: string("HOST", "address to listen on"),
    "dicom-port": int("PORT", "DICOM C-STORE port (0 = any free port)", { min: 0, max: 65535 }),
    "ae-title": string("AE", "our DICOM Application Entity title"),
    "allow-ae": list("AE", "a calling AE title allowed to send"),
    "data-dir": string("DIR", "SQLite store and received instances (default ./radiolens-data)"),
    store: string("DSN|PATH", "postgres://user@host:5432/db, or a SQLite file"),
    web: string("DIR", "web console files served at /"),
    backend: backendOption,
    runtime: runtimeOption,
  },
  async run({ values }, io) {
    const models = values.model.map((m) => {
      const i = m.lastIndexOf("=");
      return i > 0 ? { dir: m.slice(0, i), id: m.slice(i + 1) } : { dir: m };
    });
    const dimse: Record<string, unknown> = {};
    if (values["dicom-port"] !== undefined) dimse["port"] = values["dicom-port"];
    if (values["ae-title"]) dimse["aeTitle"] = values["ae-title"];
    if (values["allow-ae"].length) dimse["allowedCallingAeTitles"] = values["allow-ae"];
    const cfg = loadServeConfig(values.config, {
      ...(models.length ? { models } : {}),
      port: values.port,
      host: values.host,
      dataDir: values["data-dir"],
      store: values.store,
      webRoot: values.web,
      backend: values.backend,
      runtime: values.runtime,
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
});
