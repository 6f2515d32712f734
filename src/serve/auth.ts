/** Authentication and roles: API keys (stored as SHA-256) and HS256 JWTs (RFC 7519, RFC 7515) verified with node:crypto. */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { RadioLensError } from "../core/errors.js";

/**
 * Roles, weakest first; each role may do everything the ones before it may.
 *
 * @example
 * ```ts
 * ROLES.includes(claims.role); // a known role?
 * ```
 */
export const ROLES = ["viewer", "clinician", "admin"] as const;

/** A role. */
export type Role = (typeof ROLES)[number];

/** Who made a request. */
export interface Principal {
  /** Key id or JWT `sub`; shown in audit records, never a secret. */
  readonly id: string;
  /** The role claimed; may be a string outside {@link ROLES}, which then grants nothing. */
  readonly role: string;
  readonly via: "api-key" | "jwt";
}

/** One configured API key. */
export interface ApiKeyConfig {
  readonly id: string;
  readonly role: Role;
  /** The key itself, or `sha256:<hex>` of it so that configuration files hold no secret. */
  readonly key: string;
}

/** Authentication settings. */
export interface AuthConfig {
  readonly apiKeys?: readonly ApiKeyConfig[];
  /** HS256 secret for JWTs (at least 32 bytes); JWTs are refused when absent. */
  readonly jwtSecret?: string;
  /** Expected `iss`, when set. */
  readonly jwtIssuer?: string;
}

/**
 * True when `role` may act where `required` is needed.
 *
 * @example
 * ```ts
 * roleAllows("admin", "clinician"); // true
 * ```
 */
export function roleAllows(role: string, required: Role): boolean {
  const have = ROLES.indexOf(role as Role);
  return have >= 0 && have >= ROLES.indexOf(required);
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString("base64url");
const sha256 = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

/**
 * Signs an HS256 JWT (RFC 7519) with `sub`, `role`, `iat` and `exp`.
 *
 * @example
 * ```ts
 * const token = signJwt({ sub: "dr-a", role: "clinician" }, secret, 3600);
 * ```
 */
export function signJwt(
  claims: { readonly sub: string; readonly role: string; readonly iss?: string },
  secret: string,
  ttlSeconds = 3600,
  now = Math.floor(Date.now() / 1000),
): string {
  const head = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = b64url(JSON.stringify({ ...claims, iat: now, exp: now + ttlSeconds }));
  const sig = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

function verifyJwt(token: string, cfg: AuthConfig, now: number): Principal | undefined {
  if (!cfg.jwtSecret) return undefined;
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  const [h, b, s] = parts as [string, string, string];
  let header: { alg?: unknown };
  let claims: { sub?: unknown; role?: unknown; exp?: unknown; nbf?: unknown; iss?: unknown };
  try {
    header = JSON.parse(Buffer.from(h, "base64url").toString("utf8"));
    claims = JSON.parse(Buffer.from(b, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  // Only HS256: accepting the header's alg would let "none" or a public key in as a secret (RFC 8725 3.1).
  if (header.alg !== "HS256") return undefined;
  const want = createHmac("sha256", cfg.jwtSecret).update(`${h}.${b}`).digest();
  const got = Buffer.from(s, "base64url");
  if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
  if (typeof claims.exp !== "number" || claims.exp <= now) return undefined;
  if (typeof claims.nbf === "number" && claims.nbf > now) return undefined;
  if (cfg.jwtIssuer !== undefined && claims.iss !== cfg.jwtIssuer) return undefined;
  if (typeof claims.sub !== "string" || typeof claims.role !== "string") return undefined;
  return { id: claims.sub, role: claims.role, via: "jwt" };
}

/**
 * Resolves the credentials of a request: `X-API-Key: <key>`, or `Authorization: Bearer <key or JWT>`.
 * Returns undefined when there are none or they are invalid (the caller answers 401 and audits the failure).
 *
 * @example
 * ```ts
 * const who = authenticate({ authorization: "Bearer abc" }, { apiKeys: [{ id: "k1", role: "viewer", key: "abc" }] });
 * ```
 */
export function authenticate(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  cfg: AuthConfig,
  now = Math.floor(Date.now() / 1000),
): Principal | undefined {
  const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
  let cred = first(headers["x-api-key"]);
  const auth = first(headers["authorization"]);
  if (!cred && auth) {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    if (m) cred = m[1];
  }
  if (!cred) return undefined;
  if (cred.split(".").length === 3) return verifyJwt(cred, cfg, now);
  // Compare digests so that the comparison time depends on neither key's length nor content.
  const got = sha256(cred);
  for (const k of cfg.apiKeys ?? []) {
    const want = k.key.startsWith("sha256:") ? Buffer.from(k.key.slice(7), "hex") : sha256(k.key);
    if (want.length === got.length && timingSafeEqual(want, got))
      return { id: k.id, role: k.role, via: "api-key" };
  }
  return undefined;
}

/**
 * Validates an auth configuration: roles known, keys long enough, the JWT secret at least 32 bytes.
 *
 * @example
 * ```ts
 * validateAuthConfig({ apiKeys: [{ id: "ops", role: "admin", key: "sha256:..." }] });
 * ```
 */
export function validateAuthConfig(cfg: AuthConfig): void {
  const bad = (detail: string): RadioLensError => new RadioLensError("RL_ERR_USAGE", { detail });
  for (const k of cfg.apiKeys ?? []) {
    if (!ROLES.includes(k.role))
      throw bad(`API key '${k.id}' has role '${k.role}' (use ${ROLES.join(", ")})`);
    if (k.key.startsWith("sha256:") ? !/^sha256:[0-9a-f]{64}$/.test(k.key) : k.key.length < 16)
      throw bad(`API key '${k.id}' must be at least 16 characters or sha256:<64 hex digits>`);
  }
  if (cfg.jwtSecret !== undefined && Buffer.byteLength(cfg.jwtSecret) < 32)
    throw bad("jwtSecret must be at least 32 bytes (RFC 7518 3.2 asks for a key as long as the hash)");
}
