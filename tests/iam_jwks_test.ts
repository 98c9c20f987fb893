/** JWKS behaviour: prefetch, rotation on unknown kid, cooldown, endpoint down, last good keys. */
import assert from "node:assert/strict";
import { Counter } from "../mod/metrics/mod.ts";
import { checkJwksUrl, type JwksOptions, RemoteJwks } from "../mod/iam/jwks.ts";
import { capturingLogger, review, type RunningPart, startPart } from "./iam_helpers.ts";
import { claims, ISSUER, type JwksServer, sign, startJwksServer, testKey } from "./iam_keys.ts";

const log = capturingLogger();

function status(body: Record<string, unknown>) {
  // deno-lint-ignore no-explicit-any
  return body.status as any;
}

/**
 * Runs `fn` against a webhook part trusting `jwks` for ISSUER with no refetch cooldown, so every
 * unknown kid refetches; stops both afterwards.
 */
async function withWebhookOn(jwks: JwksServer, fn: (p: RunningPart) => Promise<void>) {
  const p = await startPart({
    jwt: { issuer: ISSUER, jwksUrl: jwks.url, jwksRefetchCooldown: "0s" },
  });
  try {
    await fn(p);
  } finally {
    await p.stop();
    await jwks.close();
  }
}

/** RemoteJwks options for `url`: 2 s fetches, hourly refresh, no cooldown unless `over` says. */
function remoteOptions(url: string, over: Partial<JwksOptions> = {}): JwksOptions {
  return { url, timeoutMs: 2000, refreshIntervalMs: 3_600_000, cooldownMs: 0, log, ...over };
}

/** Runs `fn` with a RemoteJwks on `jwks` (not yet started); stops both afterwards. */
async function withRemoteJwks(
  jwks: JwksServer,
  over: Partial<JwksOptions>,
  fn: (remote: RemoteJwks) => Promise<void>,
) {
  const remote = new RemoteJwks(remoteOptions(jwks.url, over));
  try {
    await fn(remote);
  } finally {
    remote.stop();
    await jwks.close();
  }
}

Deno.test("unknown kid, then a rotated JWKS: the webhook refetches and accepts", async () => {
  const k1 = await testKey("ES256", "k1");
  const k2 = await testKey("RS256", "k2");
  const jwks = startJwksServer([k1.publicJwk]);
  await withWebhookOn(jwks, async (p) => {
    assert.equal(jwks.fetches, 1, "prefetched at start");
    const t1 = await sign(k1, claims());
    assert.equal(status((await review(p.url, p.apiserver, t1)).body).authenticated, true);
    assert.equal(jwks.fetches, 1, "a known kid needs no fetch");

    const t2 = await sign(k2, claims());
    const before = await review(p.url, p.apiserver, t2);
    assert.equal(status(before.body).authenticated, false);
    assert.match(status(before.body).error, /no key with kid "k2"/);
    assert.equal(jwks.fetches, 2, "an unknown kid triggers one refetch");

    jwks.keys = [k1.publicJwk, k2.publicJwk]; // the IAM service rotates in k2
    const after = await review(p.url, p.apiserver, t2);
    assert.equal(status(after.body).authenticated, true, "unknown-kid answers are not cached");
    assert.equal(jwks.fetches, 3);
    assert.match(
      p.metrics.render(),
      /k8shost_iam_jwks_refreshes_total\{result="ok",trigger="unknown_kid"\} 2/,
    );
  });
});

Deno.test("JWKS endpoint down: last good keys kept, unknown kids refused with a clear error", async () => {
  const k1 = await testKey("ES256", "k1");
  const jwks = startJwksServer([k1.publicJwk]);
  await withWebhookOn(jwks, async (p) => {
    jwks.down = true;
    const fresh = await sign(k1, claims({ jti: "after-outage" }));
    assert.equal(status((await review(p.url, p.apiserver, fresh)).body).authenticated, true);
    const unknown = await review(p.url, p.apiserver, await sign({ ...k1, kid: "k9" }, claims()));
    assert.equal(status(unknown.body).authenticated, false);
    assert.match(status(unknown.body).error, /no key with kid "k9"/);
    assert.match(
      p.metrics.render(),
      /k8shost_iam_jwks_refreshes_total\{result="error",trigger="unknown_kid"\} 1/,
    );
    assert.ok(p.logs.some((l) => l.includes("JWKS refresh failed") && l.includes("HTTP 503")));
  });
});

Deno.test("JWKS endpoint down from the start: answers say the keys are unavailable", async () => {
  const k1 = await testKey("ES256", "k1");
  const jwks = startJwksServer([k1.publicJwk]);
  jwks.down = true;
  await withWebhookOn(jwks, async (p) => {
    assert.equal(p.part.ready(), true, "the webhook serves even without keys");
    const t = await sign(k1, claims());
    const res = await review(p.url, p.apiserver, t);
    assert.equal(status(res.body).authenticated, false);
    assert.match(
      status(res.body).error,
      /signing keys for this issuer are not available yet \(HTTP 503\)/,
    );
    jwks.down = false; // recovery: the next review fetches and succeeds (transient answers are not cached)
    assert.equal(status((await review(p.url, p.apiserver, t)).body).authenticated, true);
  });
});

Deno.test("RemoteJwks: unknown-kid refetches are limited by the cooldown", async () => {
  const k1 = await testKey("ES256", "k1");
  const jwks = startJwksServer([k1.publicJwk]);
  let now = 1_000_000;
  const refreshes = new Counter("r", "r");
  await withRemoteJwks(jwks, { cooldownMs: 30_000, refreshes, now: () => now }, async (remote) => {
    await remote.start();
    assert.equal((await remote.resolve("ES256", "k1")).length, 1);
    for (let i = 0; i < 20; i++) {
      assert.equal((await remote.resolve("ES256", `forged-${i}`)).length, 0);
    }
    assert.equal(jwks.fetches, 1, "within the cooldown, forged kids cause no fetch");
    now += 30_000;
    await remote.resolve("ES256", "forged-x");
    assert.equal(jwks.fetches, 2, "after the cooldown, one fetch");
    assert.equal(refreshes.get({ result: "ok", trigger: "unknown_kid" }), 1);
    // A key of the wrong type never matches, whatever the kid.
    assert.equal((await remote.resolve("RS256", "k1")).length, 0);
  });
});

Deno.test("RemoteJwks: bad documents keep the previous keys", async () => {
  const k1 = await testKey("ES256", "k1");
  const jwks = startJwksServer([k1.publicJwk]);
  await withRemoteJwks(jwks, {}, async (remote) => {
    await remote.start();
    jwks.keys = [{ kty: "oct", k: "c2VjcmV0" }]; // a symmetric key is never taken from a JWKS
    await remote.refresh("test");
    assert.match(remote.lastError, /no usable signature keys/);
    assert.equal(remote.current?.size, 1);
    assert.ok(remote.current?.hasKid("k1"));
  });
});

Deno.test("JWKS URL must be https (http only to loopback)", () => {
  checkJwksUrl("https://iam.example/jwks");
  checkJwksUrl("http://127.0.0.1:8080/jwks");
  assert.throws(() => checkJwksUrl("http://iam.example/jwks"), /must be https/);
  assert.throws(() => checkJwksUrl("ftp://x"), /must be https/);
  assert.throws(() => checkJwksUrl("::"), /is not a URL/);
});

Deno.test("static PEM keys and a JWKS for one issuer: both verify", async () => {
  const { KeySet, parseKeyFile } = await import("../mod/iam/keys.ts");
  const { TokenVerifier } = await import("../mod/iam/verify.ts");
  const fromJwks = await testKey("ES256", "j1");
  const fromPem = await testKey("RS256", "unused");
  const jwks = startJwksServer([fromJwks.publicJwk]);
  await withRemoteJwks(jwks, {}, async (remote) => {
    await remote.start();
    const verifier = new TokenVerifier({
      trusts: [{
        issuer: ISSUER,
        staticKeys: new KeySet(parseKeyFile(fromPem.spkiPem, "pem")),
        jwks: remote,
      }],
      algorithms: ["ES256", "RS256"],
      leewaySeconds: 30,
      maxTokenBytes: 8192,
      opaquePrefixes: [],
    });
    assert.equal((await verifier.verify(await sign(fromJwks, claims()))).ok, true);
    assert.equal(
      (await verifier.verify(await sign({ ...fromPem, kid: undefined }, claims()))).ok,
      true,
    );
    assert.equal(
      (await verifier.verify(await sign(fromPem, claims()))).ok,
      true,
      "kid-less PEM key",
    );
  });
});

Deno.test("JWKS over HTTPS with a private CA (iam.jwt.jwksCAFile)", async () => {
  const { generateCa, issueLeaf } = await import("../mod/iam/pki.ts");
  const ca = await generateCa("kh-iam-jwks-ca");
  const leaf = await issueLeaf(ca, { commonName: "jwks", usage: "server", ips: ["127.0.0.1"] });
  const k1 = await testKey("ES256", "k1");
  let fetches = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: leaf.certPem, key: leaf.keyPem, onListen() {} },
    () => (fetches++, Response.json({ keys: [k1.publicJwk] })),
  );
  const url = `https://127.0.0.1:${server.addr.port}/jwks`;
  const trusted = new RemoteJwks(remoteOptions(url, { caPem: ca.certPem }));
  const untrusted = new RemoteJwks(remoteOptions(url));
  try {
    await trusted.start();
    assert.ok(trusted.current?.hasKid("k1"));
    await untrusted.start();
    assert.equal(untrusted.current, undefined, "a certificate from an unknown CA is refused");
    assert.notEqual(untrusted.lastError, "");
    assert.equal(fetches, 1);
  } finally {
    trusted.stop();
    untrusted.stop();
    await server.shutdown();
  }
});
