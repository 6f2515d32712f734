// Vite build of the web console: served by `radiolens serve --web web/dist` under /console/.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const shim = (name: string): string => fileURLToPath(new URL(`./src/shims/${name}.ts`, import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/console/",
  // The DICOM parser of src/io/dicom runs in the browser; its two Node imports get browser stand-ins.
  resolve: { alias: { "node:fs": shim("node-fs"), "node:zlib": shim("node-zlib") } },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 4096 },
  logLevel: "warn",
});
