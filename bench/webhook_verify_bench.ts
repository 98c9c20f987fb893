/**
 * In-process cost of one review through the Authenticator (no HTTP): cached, uncached ES256,
 * uncached RS256. `deno bench --allow-all bench/webhook_verify_bench.ts`. Complements
 * bench/webhook_load.ts, which measures the whole HTTPS path from another process.
 */
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { Authenticator } from "../mod/iam/authenticator.ts";
import { KeySet } from "../mod/iam/keys.ts";
import { TokenVerifier } from "../mod/iam/verify.ts";

const ISSUER = "https://iam.bench.example";
const es = await generateKeyPair("ES256", { extractable: true });
const rs = await generateKeyPair("RS256", { extractable: true });
const keys = new KeySet([
  { ...(await exportJWK(es.publicKey)), kid: "es" },
  { ...(await exportJWK(rs.publicKey)), kid: "rs" },
]);
const verifier = new TokenVerifier({
  trusts: [{ issuer: ISSUER, staticKeys: keys, audiences: ["bench"] }],
  algorithms: ["ES256", "RS256"],
  leewaySeconds: 30,
  maxTokenBytes: 8192,
  opaquePrefixes: [],
});

async function tokens(n: number, alg: "ES256" | "RS256"): Promise<string[]> {
  const key = alg === "ES256" ? es.privateKey : rs.privateKey;
  const now = Math.floor(Date.now() / 1000);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      await new SignJWT({ org_id: "org-1", project_id: "proj-1", roles: ["project_viewer"] })
        .setProtectedHeader({ alg, kid: alg === "ES256" ? "es" : "rs" })
        .setIssuer(ISSUER).setAudience("bench").setSubject(`user-${i}`)
        .setIssuedAt(now).setExpirationTime(now + 3600).setJti(crypto.randomUUID())
        .sign(key),
    );
  }
  return out;
}

const review = (token: string) => ({
  apiVersion: "authentication.k8s.io/v1" as const,
  token,
  audiences: ["https://kubernetes.default.svc.cluster.local", "k3s"],
});
const cachedAuth = new Authenticator(verifier, {
  cacheSize: 1000,
  positiveTtlMs: 600_000,
  negativeTtlMs: 10_000,
});
const [hot] = await tokens(1, "ES256");
await cachedAuth.review(review(hot));
const esTokens = await tokens(20000, "ES256");
const rsTokens = await tokens(3000, "RS256");
const fresh = () =>
  new Authenticator(verifier, { cacheSize: 0, positiveTtlMs: 0, negativeTtlMs: 0 });
const esAuth = fresh(), rsAuth = fresh();
let i = 0, j = 0;

Deno.bench("review: cached", async () => {
  await cachedAuth.review(review(hot));
});
Deno.bench("review: uncached ES256", async () => {
  await esAuth.review(review(esTokens[i++ % esTokens.length]));
});
Deno.bench("review: uncached RS256", async () => {
  await rsAuth.review(review(rsTokens[j++ % rsTokens.length]));
});
