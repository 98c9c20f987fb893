/**
 * Verification keys: a set of JWKs from which the candidates for one token's `alg`/`kid` are
 * picked. The JWK's key type decides which algorithms it may verify, so an RSA or EC public
 * key can never be used as an HMAC secret (the HS/RS confusion attack) and a shared secret
 * never verifies an asymmetric signature.
 */
import { importJWK, type JWK } from "jose";
import { Buffer } from "node:buffer";
import { createPublicKey } from "node:crypto";

type VerifyKey = CryptoKey | Uint8Array;

const KTY_FOR_ALG: Record<string, { kty: string; crv?: string }> = {
  RS256: { kty: "RSA" },
  RS384: { kty: "RSA" },
  RS512: { kty: "RSA" },
  PS256: { kty: "RSA" },
  PS384: { kty: "RSA" },
  PS512: { kty: "RSA" },
  ES256: { kty: "EC", crv: "P-256" },
  ES384: { kty: "EC", crv: "P-384" },
  ES512: { kty: "EC", crv: "P-521" },
  EdDSA: { kty: "OKP", crv: "Ed25519" },
  HS256: { kty: "oct" },
};

export function keyFitsAlg(jwk: JWK, alg: string): boolean {
  const want = KTY_FOR_ALG[alg];
  if (!want || jwk.kty !== want.kty) return false;
  if (want.crv && jwk.crv !== want.crv) return false;
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  if (jwk.use !== undefined && jwk.use !== "sig") return false;
  return true;
}

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi"];

/** A JWK reduced to its public members (a private JWK file may be given as a public key). */
export function publicJwk(jwk: JWK): JWK {
  const out: Record<string, unknown> = { ...jwk };
  if (jwk.kty !== "oct") { for (const m of PRIVATE_MEMBERS) delete out[m]; }
  delete out.key_ops;
  return out as JWK;
}

export class KeySet {
  private imported = new Map<string, Promise<VerifyKey>>();
  readonly keys: readonly JWK[];

  constructor(keys: JWK[]) {
    this.keys = keys.map((k) => (k.kty === "oct" ? k : publicJwk(k)));
  }

  get size(): number {
    return this.keys.length;
  }

  hasKid(kid: string): boolean {
    return this.keys.some((k) => k.kid === kid);
  }

  /**
   * Keys that may have signed a token with this header: the key type must fit `alg`; with a
   * `kid` the key must carry the same kid (or none, as static PEM keys do).
   */
  candidates(alg: string, kid: string | undefined): Promise<VerifyKey>[] {
    const out: Promise<VerifyKey>[] = [];
    this.keys.forEach((jwk, i) => {
      if (!keyFitsAlg(jwk, alg)) return;
      if (kid !== undefined && jwk.kid !== undefined && jwk.kid !== kid) return;
      const cacheKey = `${i}/${alg}`;
      let k = this.imported.get(cacheKey);
      if (!k) {
        k = importJWK(jwk, alg) as Promise<VerifyKey>;
        k.catch(() => this.imported.delete(cacheKey));
        this.imported.set(cacheKey, k);
      }
      out.push(k);
    });
    return out;
  }
}

/** Parses a JWK Set document; keys that are not signature keys of a known type are dropped. */
export function parseJwks(doc: unknown): JWK[] {
  if (typeof doc !== "object" || doc === null || !Array.isArray((doc as { keys?: unknown }).keys)) {
    throw new Error('JWKS must be a JSON object with a "keys" array');
  }
  const keys = (doc as { keys: unknown[] }).keys;
  if (keys.length > 100) throw new Error("JWKS has more than 100 keys");
  return keys.filter((k): k is JWK =>
    typeof k === "object" && k !== null && typeof (k as JWK).kty === "string" &&
    (k as JWK).kty !== "oct" && Object.keys(KTY_FOR_ALG).some((alg) => keyFitsAlg(k as JWK, alg))
  ).map(publicJwk);
}

/** A static public key file: PEM (SPKI, PKCS#1 or a certificate), a JWK or a JWK Set. */
export function parseKeyFile(text: string, source: string): JWK[] {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    let doc: unknown;
    try {
      doc = JSON.parse(trimmed);
    } catch (err) {
      throw new Error(`${source}: not valid JSON: ${(err as Error).message}`);
    }
    if (typeof doc === "object" && doc !== null && "keys" in doc) return parseJwks(doc);
    const jwk = doc as JWK;
    if (typeof jwk.kty !== "string" || jwk.kty === "oct") {
      throw new Error(`${source}: not an asymmetric JWK`);
    }
    return [publicJwk(jwk)];
  }
  if (!trimmed.includes("-----BEGIN")) throw new Error(`${source}: neither PEM nor JWK`);
  const blocks = trimmed.match(/-----BEGIN [^-]+-----[^-]+-----END [^-]+-----/g) ?? [];
  return blocks.map((pem) => {
    if (/PRIVATE KEY/.test(pem)) {
      throw new Error(`${source}: holds a private key; give the public key`);
    }
    try {
      return createPublicKey(pem).export({ format: "jwk" }) as JWK;
    } catch (err) {
      throw new Error(`${source}: unreadable public key: ${(err as Error).message}`);
    }
  });
}

/** The HS256 shared secret as an `oct` JWK; short secrets are refused (RFC 7518 §3.2). */
export function secretJwk(secret: string, source: string): JWK {
  const bytes = new TextEncoder().encode(secret.replace(/\r?\n$/, ""));
  if (bytes.length < 32) throw new Error(`${source}: an HS256 secret needs at least 32 bytes`);
  return { kty: "oct", k: Buffer.from(bytes).toString("base64url"), alg: "HS256" };
}
