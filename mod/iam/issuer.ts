/**
 * The embedded issuer for standalone hosts: one ES256 signing key in `<dataDir>/iam/issuer.jwk`
 * (0600), created on first use. The webhook trusts its public half for `iam.issuer.name`; the
 * CLI and the embedded IAM service mint tokens with it.
 */
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  SignJWT,
} from "jose";
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { Config } from "../config/spec.ts";
import { createOnce } from "./files.ts";
import { checkIdentity, type Identity } from "./identity.ts";
import { KeySet, publicJwk } from "./keys.ts";

export interface Issuer {
  name: string;
  audience: string;
  kid: string;
  publicJwk: JWK;
  privateKey: CryptoKey;
}

export function iamDir(config: Pick<Config, "dataDir">): string {
  return join(config.dataDir, "iam");
}

export function issuerKeyPath(config: Pick<Config, "dataDir">): string {
  return join(iamDir(config), "issuer.jwk");
}

async function newSigningJwk(): Promise<string> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(publicJwk(jwk));
  return JSON.stringify({ ...jwk, kid, alg: "ES256", use: "sig" }, null, 2) + "\n";
}

/** Loads the issuer key, creating it once (safe against a concurrent creator). */
export async function loadIssuer(config: Pick<Config, "dataDir" | "iam">): Promise<Issuer> {
  const path = issuerKeyPath(config);
  const { content } = await createOnce(path, newSigningJwk, 0o600);
  let jwk: JWK;
  try {
    jwk = JSON.parse(content);
  } catch {
    throw new Error(`${path}: not a JSON JWK (remove it to generate a new issuer key)`);
  }
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || typeof jwk.d !== "string") {
    throw new Error(`${path}: expected an EC P-256 private JWK`);
  }
  const pub = publicJwk(jwk);
  const kid = jwk.kid ?? await calculateJwkThumbprint(pub);
  const privateKey = await importJWK({ ...jwk, kid }, "ES256") as CryptoKey;
  return {
    name: config.iam.issuer.name,
    audience: config.iam.issuer.audience,
    kid,
    publicJwk: { ...pub, kid, alg: "ES256", use: "sig" },
    privateKey,
  };
}

export function issuerKeySet(issuer: Issuer): KeySet {
  return new KeySet([issuer.publicJwk]);
}

export function issuerJwks(issuer: Issuer): { keys: JWK[] } {
  return { keys: [issuer.publicJwk] };
}

/** A stable principal id for an email, so every token of one user carries the same uid. */
export function userIdForEmail(email: string): string {
  const h = createHash("sha256").update(email.toLowerCase()).digest("hex");
  const v = `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${
    ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16)
  }${h.slice(17, 20)}-${h.slice(20, 32)}`;
  return `user-${v}`;
}

export interface MintOptions {
  identity: Identity;
  ttlSeconds: number;
  audiences?: string[];
  /** Seconds since epoch; default now. */
  now?: number;
  notBefore?: number;
  jti?: string;
}

export async function mintToken(
  issuer: Issuer,
  o: MintOptions,
): Promise<{ token: string; exp: number; jti: string }> {
  const id = checkIdentity(o.identity);
  const now = o.now ?? Math.floor(Date.now() / 1000);
  const exp = now + o.ttlSeconds;
  const jti = o.jti ?? crypto.randomUUID();
  const claims: Record<string, unknown> = {
    org_id: id.orgId,
    roles: id.roles,
    principal_type: id.kind,
  };
  if (id.projectId) claims.project_id = id.projectId;
  if (id.email) claims.email = id.email;
  if (id.principalName) claims.principal_name = id.principalName;
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", kid: issuer.kid, typ: "JWT" })
    .setIssuer(issuer.name)
    .setSubject(id.principalId)
    .setAudience(o.audiences?.length ? o.audiences : [issuer.audience])
    .setIssuedAt(now)
    .setExpirationTime(exp)
    .setJti(jti);
  if (o.notBefore !== undefined) jwt.setNotBefore(o.notBefore);
  return { token: await jwt.sign(issuer.privateKey), exp, jti };
}
