/** Worker thread of deidentifyTree: de-identifies the instances it is sent and answers with their audit records. */
import { parentPort, workerData } from "node:worker_threads";
import type { DeidConfig } from "./apply-profile.js";
import { runTask } from "./batch.js";

interface Shared {
  readonly outRoot: string;
  readonly durable: boolean;
  readonly layout: "mirror" | "uid";
  readonly config: DeidConfig;
}

const shared = workerData as Shared;
const config: DeidConfig = { ...shared.config, secret: new Uint8Array(shared.config.secret) };

parentPort?.on("message", (task: { rel: string; path?: string; bytes?: Uint8Array }) => {
  parentPort?.postMessage(runTask(task, shared.outRoot, config, shared.durable, shared.layout));
});
