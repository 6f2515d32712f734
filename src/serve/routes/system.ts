/** Operational routes: liveness, readiness, Prometheus metrics, the OpenAPI document and its docs page, jobs and audit. */
import type { FastifyInstance } from "fastify";
import { RadioLensError } from "../../core/errors.js";
import type { ServiceContext } from "../context.js";

const esc = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );

/**
 * Registers `/healthz` (public), `/readyz`, `/metrics` (admin), `/openapi.json`, `/docs`, `/v1/jobs`,
 * `/v1/dead-letters` (admin) and `/v1/audit` (admin).
 *
 * @example
 * ```ts
 * await app.register(systemRoutes, { ctx });
 * ```
 */
export async function systemRoutes(app: FastifyInstance, { ctx }: { ctx: ServiceContext }): Promise<void> {
  app.get(
    "/healthz",
    {
      config: { auth: "public" },
      schema: { summary: "Liveness: the process answers", tags: ["system"], security: [] },
    },
    async () => ({ status: "ok" }),
  );

  app.get(
    "/readyz",
    {
      config: { auth: "viewer" },
      schema: { summary: "Readiness: models loaded, store open", tags: ["system"] },
    },
    async (_req, reply) => {
      const body = {
        status: ctx.ready ? "ready" : "starting",
        models: [...ctx.models.keys()],
        jobs: { pending: await ctx.repo.countJobs("pending"), running: await ctx.repo.countJobs("running") },
        sends: {
          pending: await ctx.repo.countSends("pending"),
          sending: await ctx.repo.countSends("sending"),
        },
      };
      return reply.code(ctx.ready ? 200 : 503).send(body);
    },
  );

  app.get(
    "/metrics",
    {
      config: { auth: "admin" },
      schema: { summary: "Prometheus metrics (text exposition format)", tags: ["system"] },
    },
    async (_req, reply) => {
      const text = await ctx.metrics.registry.metrics();
      const gauge = (name: string, help: string, v: number): string =>
        `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name} ${v}\n`;
      return reply
        .type(ctx.metrics.registry.contentType)
        .send(
          text +
            gauge("radiolens_jobs_pending", "Analysis jobs waiting", await ctx.repo.countJobs("pending")) +
            gauge(
              "radiolens_jobs_failed",
              "Analysis jobs failed for good",
              await ctx.repo.countJobs("failed"),
            ) +
            gauge(
              "radiolens_result_sends_failed",
              "Result objects dead-lettered after their last try (outbox)",
              await ctx.repo.countSends("failed"),
            ) +
            gauge(
              "radiolens_result_sends_pending",
              "Result objects not yet acknowledged by the C-STORE destination (outbox)",
              (await ctx.repo.countSends("pending")) + (await ctx.repo.countSends("sending")),
            ),
        );
    },
  );

  app.get(
    "/openapi.json",
    {
      config: { auth: "viewer" },
      schema: { summary: "The OpenAPI 3 document of this service", tags: ["system"] },
    },
    async () => app.swagger(),
  );

  app.get(
    "/docs",
    {
      config: { auth: "viewer" },
      schema: { summary: "Human-readable API reference (HTML)", tags: ["system"] },
    },
    async (_req, reply) => {
      const doc = app.swagger() as {
        info: { title: string; version: string; description?: string };
        paths: Record<string, Record<string, { summary?: string; tags?: string[] }>>;
      };
      const rows = Object.entries(doc.paths)
        .flatMap(([path, ops]) =>
          Object.entries(ops).map(
            ([method, op]) =>
              `<tr><td><code>${esc(method.toUpperCase())}</code></td><td><code>${esc(path)}</code></td><td>${esc(op.summary ?? "")}</td><td>${esc((op.tags ?? []).join(", "))}</td></tr>`,
          ),
        )
        .join("\n");
      const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(doc.info.title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem;max-width:70rem}td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left}</style></head>
<body><h1>${esc(doc.info.title)} <small>${esc(doc.info.version)}</small></h1><p>${esc(doc.info.description ?? "")}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a></p>
<table><thead><tr><th>Method</th><th>Path</th><th>Summary</th><th>Tags</th></tr></thead><tbody>
${rows}
</tbody></table></body></html>`;
      return reply.type("text/html; charset=utf-8").send(html);
    },
  );

  app.get(
    "/v1/jobs",
    {
      config: { auth: "viewer" },
      schema: {
        summary: "Recent analysis jobs with their status",
        tags: ["results"],
        querystring: {
          type: "object",
          properties: {
            limit: { type: "integer", minimum: 1, maximum: 1000, default: 100 },
            status: { type: "string", enum: ["pending", "running", "done", "failed"] },
          },
        },
      },
    },
    async (req) => {
      const q = req.query as { limit: number; status?: "pending" | "running" | "done" | "failed" };
      return { jobs: await ctx.repo.listJobs(q.limit, q.status) };
    },
  );

  app.get(
    "/v1/dead-letters",
    {
      config: { auth: "admin" },
      schema: {
        summary: "The dead-letter queues: analysis jobs and result sends that failed for good",
        tags: ["results"],
        querystring: {
          type: "object",
          properties: { limit: { type: "integer", minimum: 1, maximum: 1000, default: 100 } },
        },
      },
    },
    async (req) => {
      const { limit } = req.query as { limit: number };
      return {
        jobs: { count: await ctx.repo.countJobs("failed"), items: await ctx.repo.listJobs(limit, "failed") },
        sends: {
          count: await ctx.repo.countSends("failed"),
          items: await ctx.repo.listSends(limit, "failed"),
        },
      };
    },
  );

  app.get(
    "/v1/predictions/:sopInstanceUid",
    {
      config: { auth: "viewer", audit: "access" },
      schema: {
        summary: "Committed predictions for a received instance",
        tags: ["results"],
        params: {
          type: "object",
          properties: { sopInstanceUid: { type: "string", pattern: "^[0-9]+(\\.[0-9]+)*$", maxLength: 64 } },
          required: ["sopInstanceUid"],
        },
      },
    },
    async (req) => {
      const { sopInstanceUid } = req.params as { sopInstanceUid: string };
      if (!(await ctx.repo.getInstance(sopInstanceUid)))
        throw new RadioLensError("RL_ERR_NOT_FOUND", { what: "instance" });
      return { predictions: await ctx.repo.predictionsFor(sopInstanceUid) };
    },
  );

  app.get(
    "/v1/audit",
    {
      config: { auth: "admin", audit: "auditLog" },
      schema: {
        summary: "Audit records (PS3.15 A.5 event types), newest first",
        tags: ["system"],
        querystring: {
          type: "object",
          properties: {
            limit: { type: "integer", minimum: 1, maximum: 10000, default: 100 },
            eventId: { type: "string", pattern: "^1101[0-9]{2}$" },
          },
        },
      },
    },
    async (req) => {
      const q = req.query as { limit: number; eventId?: string };
      return { records: await ctx.repo.listAudit(q.limit, q.eventId) };
    },
  );
}
