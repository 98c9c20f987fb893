/** TokenVerifier at exact clock edges (injected clock) and its key-selection rules. */
import assert from "node:assert/strict";
import { KeySet, secretJwk } from "../mod/iam/keys.ts";
import { TokenVerifier } from "../mod/iam/verify.ts";
import { claims, ISSUER, sign, testKey } from "./iam_keys.ts";

const NOW = 1_900_000_000;

async function setup() {
  const es = await testKey("ES256", "e1");
  const rs = await testKey("RS256", "r1");
  const secret = "0123456789abcdef0123456789abcdef-kh";
  const verifier = new TokenVerifier({
    trusts: [{
      issuer: ISSUER,
      staticKeys: new KeySet([es.publicJwk, rs.publicJwk]),
      secret: new KeySet([secretJwk(secret, "s")]),
    }],
    algorithms: ["ES256", "RS256", "HS256"],
    leewaySeconds: 30,
    maxTokenBytes: 8192,
    opaquePrefixes: [],
    now: () => NOW * 1000,
  });
  return { es, rs, secret, verifier };
}

Deno.test("leeway edges are exact: exp, nbf and iat at ±30s", async () => {
  const { es, verifier } = await setup();
  const at = (over: Record<string, unknown>) =>
    sign(es, claims({ iat: NOW - 60, exp: NOW + 600, ...over }));
  const reason = async (over: Record<string, unknown>) => {
    const v = await verifier.verify(await at(over));
    return v.ok ? "ok" : v.reason;
  };
  assert.equal(await reason({ exp: NOW - 29 }), "ok");
  assert.equal(await reason({ exp: NOW - 30 }), "expired", "exp + leeway == now is expired");
  assert.equal(await reason({ nbf: NOW + 30 }), "ok");
  assert.equal(await reason({ nbf: NOW + 31 }), "not_yet_valid");
  assert.equal(await reason({ iat: NOW + 30 }), "ok");
  assert.equal(await reason({ iat: NOW + 31 }), "issued_in_future");
  assert.equal(await reason({ exp: "soon" }), "invalid_claims");
});

Deno.test("not-yet-valid rejections carry when they stop applying", async () => {
  const { es, verifier } = await setup();
  const v = await verifier.verify(
    await sign(es, claims({ iat: NOW, exp: NOW + 600, nbf: NOW + 100 })),
  );
  assert.equal(v.ok, false);
  if (!v.ok) assert.equal(v.until, NOW + 70);
});

Deno.test("keys are chosen by type: HS256 only with the secret, RS/ES only with public keys", async () => {
  const { es, rs, secret, verifier } = await setup();
  const c = claims({ iat: NOW, exp: NOW + 600 });
  assert.equal((await verifier.verify(await sign(rs, c))).ok, true);
  assert.equal((await verifier.verify(await sign(es, c))).ok, true);
  assert.equal(
    (await verifier.verify(
      await sign({ alg: "HS256", privateKey: new TextEncoder().encode(secret) }, c),
    )).ok,
    true,
  );
  // HS256 keyed with the RSA key's PEM or JWK members: the secret is the only HS key.
  for (const material of [rs.spkiPem, JSON.stringify(rs.publicJwk), rs.publicJwk.n!]) {
    const forged = await sign({
      alg: "HS256",
      kid: "r1",
      privateKey: new TextEncoder().encode(material),
    }, c);
    const v = await verifier.verify(forged);
    assert.equal(v.ok ? "ok" : v.reason, "bad_signature");
  }
  // A kid naming the EC key on an RS256 token finds no RSA key with that kid.
  const v = await verifier.verify(await sign({ ...rs, kid: "e1" }, c));
  assert.equal(v.ok ? "ok" : v.reason, "unknown_kid");
});
