/** Serves the web console's built files (web/dist) under /console/: static code only, no data, so it loads before sign-in. */
import { existsSync, readFileSync, statSync } from "node:fs";
import { extname, join, normalize, sep } from "node:path";
import type { FastifyInstance } from "fastify";
import { RadioLensError } from "../../core/errors.js";

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json",
  ".wasm": "application/wasm",
};

/**
 * Registers `GET /console/*` over `root`. The files are the console's code; every piece of data it shows comes
 * from the authenticated API, so these are the only routes besides `/healthz` without a role (ADR 093).
 *
 * @example
 * ```ts
 * await app.register(webConsoleRoutes, { root: "web/dist" });
 * ```
 */
export async function webConsoleRoutes(app: FastifyInstance, { root }: { root: string }): Promise<void> {
  const base = normalize(root) + sep;
  if (!existsSync(join(base, "index.html")))
    throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path: join(base, "index.html") });
  const send = (rel: string): { body: Buffer; type: string } => {
    const path = normalize(join(base, rel || "index.html"));
    // Refuse anything that resolves outside the console folder (../ in the URL).
    if (!path.startsWith(base) || !existsSync(path) || !statSync(path).isFile())
      throw new RadioLensError("RL_ERR_NOT_FOUND", { what: "console file" });
    return { body: readFileSync(path), type: TYPES[extname(path)] ?? "application/octet-stream" };
  };
  app.get("/console", { config: { auth: "public" }, schema: { hide: true } }, async (_req, reply) =>
    reply.redirect("/console/"),
  );
  app.get("/console/*", { config: { auth: "public" }, schema: { hide: true } }, async (req, reply) => {
    const f = send((req.params as { "*": string })["*"]);
    return reply
      .type(f.type)
      .header("cache-control", "no-cache")
      .header(
        "content-security-policy",
        // The image codecs are WebAssembly run in module workers: 'wasm-unsafe-eval' allows compiling them and
        // nothing else (no eval of strings).
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; img-src 'self' data: blob:; connect-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
      )
      .send(f.body);
  });
}
