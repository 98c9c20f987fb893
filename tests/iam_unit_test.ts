/** Pure parts of the webhook: user mapping, review parsing, audiences, token shapes, cache. */
import assert from "node:assert/strict";
import { Authenticator, tokenDigest } from "../mod/iam/authenticator.ts";
import { TtlLru } from "../mod/iam/cache.ts";
import { classifyToken } from "../mod/iam/classify.ts";
import { ClaimError, type Identity, identityFromClaims, userInfoFor } from "../mod/iam/identity.ts";
import { keyFitsAlg, parseKeyFile, secretJwk } from "../mod/iam/keys.ts";
import { decideAudiences, parseReview, renderReview } from "../mod/iam/review.ts";
import type { TokenVerifier, Verdict } from "../mod/iam/verify.ts";
import { fingerprint } from "../mod/log/mod.ts";
import { b64url, testKey } from "./iam_keys.ts";

const base: Identity = {
  kind: "user",
  principalId: "user-550e8400-e29b-41d4-a716-446655440000",
  principalName: "",
  email: "user@example.com",
  orgId: "org-123",
  projectId: "proj-456",
  roles: [],
};

Deno.test("user mapping follows the specification's table", () => {
  const table: [string, Partial<Identity>, { username: string; groups: string[] }][] = [
    ["user with email", {}, {
      username: "user@example.com",
      groups: ["org:org-123", "project:proj-456", "system:authenticated"],
    }],
    ["user without email", { email: "" }, {
      username: "user-550e8400-e29b-41d4-a716-446655440000",
      groups: ["org:org-123", "project:proj-456", "system:authenticated"],
    }],
    ["bare uuid subject", { email: "", principalId: "550E8400-E29B-41D4-A716-446655440000" }, {
      username: "user-550e8400-e29b-41d4-a716-446655440000",
      groups: ["org:org-123", "project:proj-456", "system:authenticated"],
    }],
    ["service account", {
      kind: "service_account",
      principalName: "ci",
      principalId: "sa-1",
      email: "",
    }, {
      username: "sa-ci@proj-456",
      groups: ["org:org-123", "project:proj-456", "system:serviceaccounts"],
    }],
    ["org admin without project", {
      email: "admin@example.com",
      projectId: "",
      roles: ["org_admin"],
    }, {
      username: "admin@example.com",
      groups: ["org:org-123", "org:org-123:admin", "k8s:org-admin", "system:authenticated"],
    }],
    ["project roles (aliases as the tenancy RBAC names them)", {
      roles: ["project_viewer", "admin", "project_editor", "Project-Member", "billing"],
    }, {
      username: "user@example.com",
      groups: [
        "org:org-123",
        "project:proj-456",
        "project:proj-456:viewer",
        "project:proj-456:admin",
        "project:proj-456:member",
        "system:authenticated",
      ],
    }],
    ["project roles need a project", { projectId: "", roles: ["project_viewer"] }, {
      username: "user@example.com",
      groups: ["org:org-123", "system:authenticated"],
    }],
  ];
  for (const [name, over, want] of table) {
    const u = userInfoFor({ ...base, ...over });
    assert.equal(u.username, want.username, name);
    assert.deepEqual(u.groups, want.groups, name);
    assert.equal(u.uid, over.principalId ?? base.principalId, name);
    assert.deepEqual(u.extra.org_id, ["org-123"], name);
  }
  const u = userInfoFor({ ...base, roles: ["org_admin", "project_member"] });
  assert.deepEqual(u.extra, {
    org_id: ["org-123"],
    principal_id: [base.principalId],
    project_id: ["proj-456"],
    roles: ["org_admin", "project_member"],
  });
});

Deno.test("claims are validated so that no value can forge a group or a system user", () => {
  const ok = { sub: "user-1", org_id: "o", project_id: "p", roles: ["viewer"] };
  assert.equal(identityFromClaims(ok).orgId, "o");
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["org with a colon", { ...ok, org_id: "o:admin" }, /org_id/],
    ["project with a colon", { ...ok, project_id: "p:viewer" }, /project_id/],
    ["system subject", { ...ok, sub: "system:admin" }, /sub/],
    ["email with a colon", { ...ok, email: "system:x@y.com" }, /email/],
    ["roles not a list", { ...ok, roles: "admin" }, /roles/],
    ["role not a name", { ...ok, roles: ["Admin Role"] }, /roles/],
    ["too many roles", { ...ok, roles: Array.from({ length: 65 }, (_, i) => `r${i}`) }, /roles/],
    ["missing org", { sub: "u" }, /missing claim "org_id"/],
    ["missing sub", { org_id: "o" }, /missing claim "sub"/],
    ["sa without name", { ...ok, principal_type: "service_account" }, /principal_name/],
    ["sa without project", {
      sub: "s",
      org_id: "o",
      principal_type: "service_account",
      principal_name: "x",
    }, /project_id/],
    [
      "sa name not a DNS label",
      { ...ok, principal_type: "service_account", principal_name: "X_Y" },
      /principal_name/,
    ],
    ["unknown principal type", { ...ok, principal_type: "robot" }, /principal_type/],
    ["org not a string", { ...ok, org_id: 7 }, /org_id/],
  ];
  for (const [name, claims, msg] of bad) {
    assert.throws(
      () => identityFromClaims(claims),
      (e) => e instanceof ClaimError && msg.test(e.message),
      name,
    );
  }
});

Deno.test("TokenReview parsing and rendering (v1 and v1beta1)", () => {
  const r = parseReview({
    kind: "TokenReview",
    apiVersion: "authentication.k8s.io/v1beta1",
    metadata: { creationTimestamp: null, uid: "abc" },
    spec: { token: "t", audiences: ["a"] },
    status: { user: {} },
  });
  assert.deepEqual(r, {
    apiVersion: "authentication.k8s.io/v1beta1",
    token: "t",
    audiences: ["a"],
    uid: "abc",
  });
  assert.equal(
    parseReview({ kind: "TokenReview", apiVersion: "authentication.k8s.io/v1", spec: {} }).token,
    "",
  );
  for (
    const bad of [null, [], "x", { kind: "TokenReview", apiVersion: "authentication.k8s.io/v1" }]
  ) {
    assert.throws(() => parseReview(bad));
  }
  assert.throws(
    () =>
      parseReview({
        kind: "TokenReview",
        apiVersion: "authentication.k8s.io/v1",
        spec: { audiences: [1] },
      }),
    /spec.audiences/,
  );
  const yes = renderReview(r, { authenticated: true, user: userInfoFor(base), audiences: ["a"] });
  assert.equal(yes.apiVersion, "authentication.k8s.io/v1beta1");
  assert.deepEqual(yes.metadata, { creationTimestamp: null, uid: "abc" });
  assert.equal("spec" in yes, false, "the token is never echoed back");
  assert.deepEqual(yes.status.audiences, ["a"]);
  const no = renderReview(r, { authenticated: false, error: "expired" });
  assert.deepEqual(no.status, { authenticated: false, error: "expired" });
});

Deno.test("audience decision per the webhook token authentication rules", () => {
  const api = ["https://kubernetes.default.svc.cluster.local", "k3s"];
  // Token minted for the cluster (configured audience): valid for the API server, no status.audiences.
  assert.deepEqual(decideAudiences(["k8shost"], api, ["k8shost"]), { ok: true });
  // Token minted for a requested audience: that intersection is returned.
  assert.deepEqual(decideAudiences(["vault", "x"], ["vault", "y"], ["k8shost"]), {
    ok: true,
    audiences: ["vault"],
  });
  assert.deepEqual(decideAudiences(["k3s"], api, ["k8shost"]), { ok: true, audiences: ["k3s"] });
  // Neither: rejected.
  assert.equal(decideAudiences(["other"], api, ["k8shost"]).ok, false);
  assert.match((decideAudiences([], [], ["k8shost"]) as { error: string }).error, /no audience/);
  // Nothing configured: the audience is not checked.
  assert.deepEqual(decideAudiences(["other"], [], []), { ok: true });
});

Deno.test("token shapes are decided without keys or network", () => {
  const opts = {
    maxTokenBytes: 100,
    issuers: new Set(["iss"]),
    algorithms: new Set(["ES256"]),
    opaquePrefixes: ["pct_"],
  };
  const jwt = (h: unknown, p: unknown) => `${b64url(h)}.${b64url(p)}.c2ln`;
  const kind = (t: string) => {
    const s = classifyToken(t, opts);
    return s.kind === "rejected" ? s.reason : s.kind;
  };
  assert.equal(kind(""), "empty_token");
  assert.equal(kind("x".repeat(101)), "token_too_large");
  assert.equal(kind(jwt({ alg: "ES256" }, { iss: "iss" })), "jwt");
  assert.equal(kind(jwt({ alg: "none" }, { iss: "iss" })), "alg_not_allowed");
  assert.equal(kind(jwt({ alg: "NONE" }, { iss: "iss" })), "alg_not_allowed");
  assert.equal(kind(jwt({ alg: "RS256" }, { iss: "iss" })), "alg_not_allowed");
  assert.equal(kind(jwt({ alg: "ES256" }, { iss: "other" })), "unknown_issuer");
  assert.equal(kind(jwt({ alg: "ES256" }, { sub: "no-iss" })), "unknown_issuer");
  assert.equal(
    kind(jwt({ alg: "ES256" }, { iss: "kubernetes/serviceaccount" })),
    "serviceaccount_token",
  );
  assert.equal(
    kind(jwt({ alg: "ES256" }, { iss: "https://kubernetes.default.svc" })),
    "serviceaccount_token",
  );
  assert.equal(
    kind(jwt({ alg: "ES256" }, { iss: "iss", "kubernetes.io": {} })),
    "serviceaccount_token",
  );
  assert.equal(kind("eyJub3QganNvbg.eyJub3QganNvbg.x"), "malformed_jwt");
  assert.equal(kind("pct_abc_def"), "opaque");
  assert.equal(kind("K10abc::server:def"), "unknown_format");
  assert.equal(kind("pct_ with space"), "unknown_format");
});

Deno.test("key types decide algorithms; PEM and JWK files; short HS secrets refused", async () => {
  const rs = await testKey("RS256", "r");
  const es = await testKey("ES256", "e");
  assert.ok(keyFitsAlg(rs.publicJwk, "RS256"));
  assert.ok(!keyFitsAlg(rs.publicJwk, "HS256"), "an RSA key is never an HMAC secret");
  assert.ok(!keyFitsAlg(rs.publicJwk, "ES256"));
  assert.ok(keyFitsAlg(es.publicJwk, "ES256"));
  assert.ok(!keyFitsAlg({ ...es.publicJwk, crv: "P-384" }, "ES256"));
  const [fromPem] = parseKeyFile(rs.spkiPem, "rs.pem");
  assert.equal(fromPem.kty, "RSA");
  const [fromJwk] = parseKeyFile(JSON.stringify(es.publicJwk), "es.jwk");
  assert.equal(fromJwk.kid, "e");
  assert.throws(
    () => parseKeyFile("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "k"),
    /private key/,
  );
  assert.throws(() => parseKeyFile("hello", "k"), /neither PEM nor JWK/);
  assert.throws(() => secretJwk("short", "s"), /at least 32 bytes/);
});

Deno.test("TTL LRU: bounded, expiring, least recently used evicted", () => {
  let now = 0;
  const c = new TtlLru<number>(2, () => now);
  c.set("a", 1, 100);
  c.set("b", 2, 100);
  assert.equal(c.get("a"), 1); // a is now most recent
  c.set("c", 3, 100); // evicts b
  assert.equal(c.get("b"), undefined);
  assert.equal(c.size, 2);
  now = 100;
  assert.equal(c.get("a"), undefined, "expired at expiresAt");
  c.set("d", 4, 50);
  assert.equal(c.get("d"), undefined, "already expired is not stored");
  assert.ok(c.hitRatio() > 0 && c.hitRatio() < 1);
  const off = new TtlLru<number>(0, () => now);
  off.set("x", 1, 1e9);
  assert.equal(off.get("x"), undefined, "size 0 disables the cache");
});

Deno.test("review cache: positive answers never outlive exp; negative TTL; nbf bound; transient not cached", async () => {
  let now = 1_000_000_000_000;
  const nowSec = () => Math.floor(now / 1000);
  let calls = 0;
  let next: Verdict = { ok: false, reason: "expired", error: "e", stable: true };
  const verifier = { verify: () => (calls++, Promise.resolve(next)) } as unknown as TokenVerifier;
  const auth = new Authenticator(verifier, {
    cacheSize: 10,
    positiveTtlMs: 120_000,
    negativeTtlMs: 10_000,
    now: () => now,
  });
  const req = (token: string) => ({
    apiVersion: "authentication.k8s.io/v1" as const,
    token,
    audiences: [],
  });

  next = {
    ok: true,
    identity: base,
    audiences: [],
    clusterAudiences: [],
    exp: nowSec() + 30,
    via: "jwt",
  };
  assert.equal((await auth.review(req("p"))).answer.authenticated, true);
  now += 29_000;
  assert.equal((await auth.review(req("p"))).cached, true);
  now += 1_000; // exp reached: 30s < positive TTL of 2m
  assert.equal((await auth.review(req("p"))).cached, false);

  next = { ok: false, reason: "bad_signature", error: "bad", stable: true };
  await auth.review(req("n"));
  now += 9_999;
  assert.equal((await auth.review(req("n"))).cached, true);
  now += 1;
  assert.equal((await auth.review(req("n"))).cached, false);

  next = { ok: false, reason: "not_yet_valid", error: "nbf", stable: true, until: nowSec() + 3 };
  await auth.review(req("f"));
  now += 3_000;
  assert.equal((await auth.review(req("f"))).cached, false, "not cached past nbf");

  next = { ok: false, reason: "iam_unavailable", error: "down", stable: false };
  const c0 = calls;
  await auth.review(req("t"));
  await auth.review(req("t"));
  assert.equal(calls - c0, 2, "transient failures are retried");

  // Concurrent reviews of one token share a single verification.
  next = {
    ok: true,
    identity: base,
    audiences: [],
    clusterAudiences: [],
    exp: nowSec() + 600,
    via: "jwt",
  };
  const c1 = calls;
  await Promise.all(Array.from({ length: 5 }, () => auth.review(req("same"))));
  assert.equal(calls - c1, 1);

  const out = await auth.review(req("same"));
  assert.equal(out.fingerprint, await fingerprint("same"), "fingerprints match mod/log's");
  assert.equal(tokenDigest("same").length, 64);
});
