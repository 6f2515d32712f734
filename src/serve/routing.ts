/** Routing rules of serve.json: which models analyse a received instance, at which level (instance, series, study), and where the results go. */
import { z } from "zod";
import { RadioLensError } from "../core/errors.js";
import type { InstanceWork } from "./repository/sqlite.js";

/** A DIMSE C-STORE destination (the PACS's AE title, host and port). */
export const DimseDestinationSchema = z
  .object({
    aeTitle: z.string().min(1).max(16),
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
  })
  .strict();

/** A DICOMweb STOW-RS destination (PS3.18 10.5) with its credentials. */
export const StowDestinationSchema = z
  .object({
    url: z.string().url(),
    username: z.string().optional(),
    password: z.string().optional(),
    bearerToken: z.string().optional(),
  })
  .strict();

/** One destination of a rule: `{ "dimse": {...} }` or `{ "stow": {...} }`. */
export const RuleDestinationSchema = z.union([
  z.object({ dimse: DimseDestinationSchema }).strict(),
  z.object({ stow: StowDestinationSchema }).strict(),
]);

/** The analysis levels: one instance (the default), or a whole series or study once it is complete. */
export const ROUTING_LEVELS = ["instance", "series", "study"] as const;

/** One of {@link ROUTING_LEVELS}. */
export type RoutingLevel = (typeof ROUTING_LEVELS)[number];

const UID = z
  .string()
  .regex(/^[0-9]+(\.[0-9]+)*$/, "a UID is digits and dots (PS3.5 9.1)")
  .max(64);

/**
 * One routing rule. `match` conditions are ANDed; an absent condition matches anything; within one condition a
 * list matches any of its values. `seriesDescription` is a glob (`*` any run of characters, `?` one character,
 * case-insensitive, against the whole SeriesDescription); `seriesDescriptionRegex` is an ECMAScript regular
 * expression (case-sensitive, unanchored: anchor it with `^…$` to match the whole value).
 */
export const RoutingRuleSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "1-64 letters, digits, '.', '_' or '-'"),
    match: z
      .object({
        /** Calling AE titles (0000,0000 association, PS3.8 9.3.2); an instance received by STOW-RS has none. */
        callingAeTitles: z.array(z.string().min(1).max(16)).min(1).optional(),
        /** Modality (0008,0060). */
        modalities: z.array(z.string().min(1).max(16)).min(1).optional(),
        /** SeriesDescription (0008,103E) glob. */
        seriesDescription: z.string().min(1).max(256).optional(),
        /** SeriesDescription (0008,103E) regular expression. */
        seriesDescriptionRegex: z.string().min(1).max(256).optional(),
        /** SOP Class UID (0008,0016). */
        sopClassUids: z.array(UID).min(1).optional(),
      })
      .strict()
      .default({}),
    /** Served model ids to run. */
    models: z.array(z.string().min(1)).min(1),
    level: z.enum(ROUTING_LEVELS).default("instance"),
    /** Series/study level: the series or study is complete once no new instance arrived for this long. */
    completionTimeoutSeconds: z.number().min(0.1).max(86_400).default(30),
    /** Where this rule's results go; none: the service's destinations (dimse.destination, stow). */
    destinations: z.array(RuleDestinationSchema).default([]),
  })
  .strict();

/** A validated routing rule. */
export type RoutingRule = z.infer<typeof RoutingRuleSchema>;

/** One destination of a rule. */
export type RuleDestination = z.infer<typeof RuleDestinationSchema>;

/** The attributes a rule matches on, read from the received instance and its association. */
export interface RoutingAttributes {
  /** Absent for instances received over HTTP (STOW-RS). */
  readonly callingAeTitle?: string;
  readonly modality: string;
  readonly seriesDescription: string;
  readonly sopClassUid: string;
}

/** A compiled rule: the rule and its SeriesDescription matchers. */
export interface CompiledRule {
  readonly rule: RoutingRule;
  readonly test: (a: RoutingAttributes) => boolean;
}

/**
 * A glob as an anchored, case-insensitive regular expression: `*` any run of characters, `?` one character,
 * everything else literal.
 *
 * @example
 * ```ts
 * globToRegExp("CT*chest*").test("ct thorax chest 1mm"); // true
 * ```
 */
export function globToRegExp(glob: string): RegExp {
  const body = [...glob]
    .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[\\^$.|+()[\]{}]/g, "\\$&")))
    .join("");
  return new RegExp(`^${body}$`, "is");
}

function usage(detail: string): RadioLensError {
  return new RadioLensError("RL_ERR_USAGE", { detail: `serve configuration: ${detail}` });
}

/**
 * Checks the rules against the served models and compiles their patterns: names unique, every model served, every
 * regular expression valid, the segmentation models (which analyse volumes) only in series or study rules.
 * The errors name the rule and field.
 *
 * @throws RadioLensError RL_ERR_USAGE naming the rule and what to fix.
 * @example
 * ```ts
 * const rules = compileRules(cfg.routing, new Map([["default", "instance"]]));
 * ```
 */
export function compileRules(
  rules: readonly RoutingRule[],
  models: ReadonlyMap<string, { readonly volumetric: boolean }>,
): CompiledRule[] {
  const names = new Set<string>();
  return rules.map((rule, i) => {
    const at = `routing.${i} ('${rule.name}')`;
    if (names.has(rule.name)) throw usage(`${at}: two rules are named '${rule.name}'`);
    names.add(rule.name);
    for (const id of rule.models) {
      const m = models.get(id);
      if (!m) {
        throw usage(
          `${at}.models: no served model '${id}' (served: ${[...models.keys()].join(", ") || "none"})`,
        );
      }
      if (m.volumetric && rule.level === "instance") {
        throw usage(`${at}.level: model '${id}' segments volumes; give the rule level "series" or "study"`);
      }
      if (!m.volumetric && rule.level !== "instance") {
        throw usage(
          `${at}.level: model '${id}' is not a 3D segmentation model; ${rule.level}-level rules run volume models, give it level "instance"`,
        );
      }
    }
    const m = rule.match;
    let regex: RegExp | undefined;
    if (m.seriesDescriptionRegex !== undefined) {
      try {
        regex = new RegExp(m.seriesDescriptionRegex, "s");
      } catch (e) {
        throw usage(`${at}.match.seriesDescriptionRegex: ${(e as Error).message}`);
      }
    }
    const glob = m.seriesDescription !== undefined ? globToRegExp(m.seriesDescription) : undefined;
    const aes = m.callingAeTitles ? new Set(m.callingAeTitles.map((a) => a.trim())) : undefined;
    const modalities = m.modalities ? new Set(m.modalities.map((x) => x.toUpperCase())) : undefined;
    const classes = m.sopClassUids ? new Set(m.sopClassUids) : undefined;
    return {
      rule,
      test: (a) =>
        (!aes || (a.callingAeTitle !== undefined && aes.has(a.callingAeTitle.trim()))) &&
        (!modalities || modalities.has(a.modality.toUpperCase())) &&
        (!classes || classes.has(a.sopClassUid)) &&
        (!glob || glob.test(a.seriesDescription)) &&
        (!regex || regex.test(a.seriesDescription)),
    };
  });
}

/**
 * The rule that takes an instance: the first whose conditions all match (rules are tried in the order of
 * serve.json, like a firewall's), or undefined when none does (the instance is stored and audited "not routed").
 *
 * @example
 * ```ts
 * routeInstance(rules, { callingAeTitle: "CT1", modality: "CT", seriesDescription: "Chest 1mm", sopClassUid: "1.2.840.10008.5.1.4.1.1.2" });
 * ```
 */
export function routeInstance(rules: readonly CompiledRule[], a: RoutingAttributes): RoutingRule | undefined {
  return rules.find((r) => r.test(a))?.rule;
}

/**
 * What a received instance queues under the rules: with no rules, every served model at instance level (the
 * service's behaviour before routing existed); else the first matching rule's models, now (instance level) or
 * once its series or study is complete; nothing when no rule matches (`rule` undefined: "not routed").
 *
 * @example
 * ```ts
 * const work = instanceWork(rules, ["default"], attrs, { series: "1.2.3", study: "1.2" });
 * ```
 */
export function instanceWork(
  rules: readonly CompiledRule[],
  allModels: readonly string[],
  a: RoutingAttributes,
  uids: { readonly series: string; readonly study: string },
): InstanceWork & { readonly routed: boolean } {
  if (rules.length === 0) return { modelIds: allModels, routed: true };
  const rule = routeInstance(rules, a);
  if (!rule) return { modelIds: [], routed: false };
  if (rule.level === "instance") return { rule: rule.name, modelIds: rule.models, routed: true };
  return {
    rule: rule.name,
    modelIds: [],
    groups: [
      {
        rule: rule.name,
        level: rule.level,
        groupUid: rule.level === "series" ? uids.series : uids.study,
        modelIds: rule.models,
        timeoutMs: Math.round(rule.completionTimeoutSeconds * 1000),
      },
    ],
    routed: true,
  };
}
