/** Patient pseudonyms (keyed, consistent across runs) and the encrypted pseudonym table for authorized re-linking. */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { RadioLensError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/**
 * The pseudonym of a Patient ID: `RL-` and 16 base32 characters (80 bits) of HMAC-SHA256(secret, ID). It fits
 * LO and PN (64 characters) and SH-like displays, is the same in every run with the same secret, and cannot be
 * inverted without the secret (PS3.15 E.1.1 Note 3: the Patient entity stays consistent across instances).
 *
 * @example
 * ```ts
 * pseudonymFor(secret, "PAT001"); // "RL-K3D...": 19 characters
 * ```
 */
export function pseudonymFor(secret: Uint8Array, patientId: string): string {
  const d = createHmac("sha256", secret).update("patient\0").update(patientId, "utf8").digest();
  let bits = 0;
  let acc = 0;
  let out = "";
  for (const byte of d.subarray(0, 10)) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return `RL-${out}`;
}

/** Key of the table: HKDF-SHA256 (RFC 5869) of the secret, so the table key never equals the UID/HMAC key. */
function tableKey(secret: Uint8Array, salt: Uint8Array): Buffer {
  return Buffer.from(hkdfSync("sha256", secret, salt, "radiolens deid pseudonym table v1", 32));
}

/** The file format of an encrypted pseudonym table (JSON; the mapping itself is only inside `ciphertext`). */
interface TableFile {
  readonly format: "radiolens-pseudonym-table";
  readonly version: 1;
  readonly cipher: "aes-256-gcm";
  readonly kdf: "hkdf-sha256";
  readonly salt: string;
  readonly iv: string;
  readonly tag: string;
  readonly ciphertext: string;
}

/**
 * Writes the pseudonym table (original Patient ID → pseudonym) encrypted with AES-256-GCM (NIST SP 800-38D) under
 * a key derived from the secret; a fresh salt and 96-bit IV each write. Written atomically.
 *
 * @example
 * ```ts
 * writePseudonymTable("/secure/pseudonyms.json", new Map([["PAT001", "RL-..."]]), secret);
 * ```
 */
export function writePseudonymTable(
  path: string,
  table: ReadonlyMap<string, string>,
  secret: Uint8Array,
): void {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", tableKey(secret, salt), iv);
  const entries = [...table.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const plain = Buffer.from(JSON.stringify(Object.fromEntries(entries)), "utf8");
  const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
  const file: TableFile = {
    format: "radiolens-pseudonym-table",
    version: 1,
    cipher: "aes-256-gcm",
    kdf: "hkdf-sha256",
    salt: salt.toString("base64"),
    iv: iv.toString("base64"),
    tag: cipher.getAuthTag().toString("base64"),
    ciphertext: ciphertext.toString("base64"),
  };
  writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`);
}

/**
 * Reads and decrypts a pseudonym table; a wrong secret or a modified file fails authentication.
 *
 * @example
 * ```ts
 * readPseudonymTable("/secure/pseudonyms.json", secret).get("PAT001");
 * ```
 */
export function readPseudonymTable(path: string, secret: Uint8Array): Map<string, string> {
  if (!existsSync(path)) throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path });
  let file: TableFile;
  try {
    file = JSON.parse(readFileSync(path, "utf8")) as TableFile;
  } catch (e) {
    throw new RadioLensError("RL_ERR_DEID_PSEUDONYM_TABLE", { path, detail: "not JSON" }, { cause: e });
  }
  if (file.format !== "radiolens-pseudonym-table" || file.version !== 1) {
    throw new RadioLensError("RL_ERR_DEID_PSEUDONYM_TABLE", {
      path,
      detail: "not a RadioLens pseudonym table",
    });
  }
  try {
    const decipher = createDecipheriv(
      "aes-256-gcm",
      tableKey(secret, Buffer.from(file.salt, "base64")),
      Buffer.from(file.iv, "base64"),
    );
    decipher.setAuthTag(Buffer.from(file.tag, "base64"));
    const plain = Buffer.concat([decipher.update(Buffer.from(file.ciphertext, "base64")), decipher.final()]);
    return new Map(Object.entries(JSON.parse(plain.toString("utf8")) as Record<string, string>));
  } catch (e) {
    throw new RadioLensError(
      "RL_ERR_DEID_PSEUDONYM_TABLE",
      { path, detail: "authentication failed (wrong secret or modified file)" },
      { cause: e },
    );
  }
}
