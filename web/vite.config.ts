// Vite build of the web console: served by `radiolens serve --web web/dist` under /console/.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/console/",
  // vtk.js (under Cornerstone3D) pulls in xmlbuilder2, which extends Node's EventEmitter at load time.
  resolve: { alias: { events: fileURLToPath(new URL("../node_modules/events/events.js", import.meta.url)) } },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 8192 },
  // The DICOM image loader decodes in module workers that import its WebAssembly codecs.
  worker: { format: "es" },
  logLevel: "warn",
});
