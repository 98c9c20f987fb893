/** Test keys, a local JWKS server and a token builder for the IAM webhook tests. */
import { Buffer } from "node:buffer";
import { exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";

export interface TestKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  spkiPem: string;
}

export async function testKey(alg: "ES256" | "RS256" | "EdDSA", kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return {
    kid,
    alg,
    privateKey: privateKey as unknown as CryptoKey,
    publicJwk,
    spkiPem: await exportSPKI(publicKey),
  };
}

export const ISSUER = "https://iam.kh-test.example";
export const AUDIENCE = "kh-test-cluster";

/** Claims of a valid IAM user token; `over` replaces or (with undefined) removes claims. */
export function claims(over: Record<string, unknown> = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  const base: Record<string, unknown> = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: "user-550e8400-e29b-41d4-a716-446655440000",
    email: "alice@example.com",
    org_id: "org-123",
    project_id: "proj-456",
    roles: ["project_admin"],
    iat: now - 5,
    exp: now + 600,
  };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return base as JWTPayload;
}

export async function sign(
  key: { privateKey: CryptoKey | Uint8Array; kid?: string; alg: string },
  payload: JWTPayload,
  header: Record<string, unknown> = {},
): Promise<string> {
  return await new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...header })
    .sign(key.privateKey);
}

export function b64url(v: unknown): string {
  return Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
}

/** An unsigned token (`alg: none`). */
export function unsigned(payload: JWTPayload): string {
  return `${b64url({ alg: "none", typ: "JWT" })}.${b64url(payload)}.`;
}

export interface JwksServer {
  url: string;
  fetches: number;
  keys: JWK[];
  down: boolean;
  close(): Promise<void>;
}

/** A JWKS endpoint on loopback whose keys and health the test controls. */
export function startJwksServer(keys: JWK[]): JwksServer {
  const state = { fetches: 0, keys, down: false };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    state.fetches++;
    if (state.down) return new Response("upstream down", { status: 503 });
    return Response.json({ keys: state.keys });
  });
  const out: JwksServer = {
    url: `http://127.0.0.1:${server.addr.port}/.well-known/jwks.json`,
    get fetches() {
      return state.fetches;
    },
    set fetches(n) {
      state.fetches = n;
    },
    get keys() {
      return state.keys;
    },
    set keys(k) {
      state.keys = k;
    },
    get down() {
      return state.down;
    },
    set down(d) {
      state.down = d;
    },
    close: () => server.shutdown(),
  };
  return out;
}
