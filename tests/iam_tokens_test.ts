/**
 * The token table: every case goes through the real webhook over HTTPS + mTLS, shaped exactly
 * like kube-apiserver's request, and the answer (and the reason recorded in the metrics) is
 * checked. Part A trusts a JWKS URL and an HS256 secret and sends opaque tokens to the embedded
 * IAM over real gRPC; part B trusts one static RSA PEM key and has no IAM fallback.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { IamClient } from "../mod/iam/iam_client.ts";
import { loadIssuer, mintToken } from "../mod/iam/issuer.ts";
import { type RunningPart, startPart, tempDir } from "./iam_helpers.ts";
import { review } from "./iam_helpers.ts";
import {
  AUDIENCE,
  b64url,
  claims,
  ISSUER,
  sign,
  startJwksServer,
  testKey,
  unsigned,
} from "./iam_keys.ts";

interface Case {
  name: string;
  part?: "A" | "B";
  token: () => Promise<string> | string;
  apiVersion?: string;
  audiences?: string[];
  ok: boolean;
  reason: string;
  username?: string;
  groups?: string[];
  statusAudiences?: string[];
  /** The case must not cause a JWKS fetch nor an IAM call. */
  local?: boolean;
}

function counter(p: RunningPart, name: string, labels: Record<string, string>): number {
  const key = Object.keys(labels).sort().map((k) => `${k}="${labels[k]}"`).join(",");
  const line = p.metrics.render().split("\n").find((l) => l.startsWith(`${name}{${key}} `));
  return line ? Number(line.split(" ").pop()) : 0;
}

function sumCounter(p: RunningPart, name: string): number {
  return p.metrics.render().split("\n").filter((l) => l.startsWith(name + "{"))
    .reduce((s, l) => s + Number(l.split(" ").pop()), 0);
}

Deno.test("token table: ≥20 cases through HTTPS + mTLS as kube-apiserver sends them", async () => {
  const es = await testKey("ES256", "es-1");
  const rs = await testKey("RS256", "rs-1");
  const other = await testKey("ES256", "es-1"); // same kid, different key: a forgery
  const jwks = startJwksServer([es.publicJwk, rs.publicJwk]);
  const dir = await tempDir();
  const secret = "kh-test-shared-secret-0123456789abcdef";
  await Deno.writeTextFile(`${dir}/hs.secret`, secret + "\n");
  await Deno.writeTextFile(`${dir}/rs.pem`, rs.spkiPem);
  let a: RunningPart | undefined, b: RunningPart | undefined;
  try {
    a = await startPart({
      jwt: {
        issuer: ISSUER,
        audiences: [AUDIENCE],
        jwksUrl: jwks.url,
        algorithms: ["RS256", "ES256", "HS256"],
        hs256SecretFile: `${dir}/hs.secret`,
        leeway: "30s",
        maxTokenBytes: 4096,
        jwksRefetchCooldown: "0s",
      },
    });
    b = await startPart({
      jwt: {
        issuer: ISSUER,
        audiences: [AUDIENCE],
        publicKeyFiles: [`${dir}/rs.pem`],
        algorithms: ["RS256"],
      },
      opaque: { enable: false },
      issuer: { enable: false },
    });
    const A = a, B = b;
    const now = Math.floor(Date.now() / 1000);
    const hs = { alg: "HS256", privateKey: new TextEncoder().encode(secret) };
    const embedded = await loadIssuer(A.config);
    const adminJwt = await mintToken(embedded, {
      ttlSeconds: 300,
      identity: {
        kind: "user",
        principalId: "user-admin",
        principalName: "",
        email: "root@example.com",
        orgId: "org-9",
        projectId: "",
        roles: ["org_admin"],
      },
    });
    const iam = new IamClient({
      endpoint: A.part.embeddedIamTarget!,
      timeoutMs: 5000,
      token: () => adminJwt.token,
    });
    const opaque = await iam.issueToken({
      format: "opaque",
      ttlSeconds: 600,
      identity: {
        kind: "user",
        principalId: "user-7d0c3a2e-1b1f-4b8e-9a55-0c2f7f1d9e10",
        principalName: "Bob",
        email: "",
        orgId: "org-9",
        projectId: "proj-9",
        roles: ["project_viewer"],
      },
    });
    iam.close();
    const valid = await sign(es, claims());

    const cases: Case[] = [
      {
        name: "valid ES256 from the JWKS (v1)",
        token: () => valid,
        ok: true,
        reason: "ok",
        username: "alice@example.com",
        groups: [
          "org:org-123",
          "project:proj-456",
          "project:proj-456:admin",
          "system:authenticated",
        ],
      },
      {
        name: "valid RS256 from the JWKS (v1beta1)",
        apiVersion: "authentication.k8s.io/v1beta1",
        token: () => sign(rs, claims({ email: undefined })),
        ok: true,
        reason: "ok",
        username: "user-550e8400-e29b-41d4-a716-446655440000",
      },
      {
        name: "valid HS256 shared secret",
        token: () => sign(hs, claims()),
        ok: true,
        reason: "ok",
      },
      {
        name: "expired an hour ago",
        token: () => sign(es, claims({ exp: now - 3600 })),
        ok: false,
        reason: "expired",
      },
      {
        name: "expired 10s ago, inside the 30s leeway",
        token: () => sign(es, claims({ exp: now - 10 })),
        ok: true,
        reason: "ok",
      },
      {
        name: "expired 45s ago, beyond the leeway",
        token: () => sign(es, claims({ exp: now - 45 })),
        ok: false,
        reason: "expired",
      },
      {
        name: "nbf an hour ahead",
        token: () => sign(es, claims({ nbf: now + 3600 })),
        ok: false,
        reason: "not_yet_valid",
      },
      {
        name: "nbf 10s ahead, inside the leeway",
        token: () => sign(es, claims({ nbf: now + 10 })),
        ok: true,
        reason: "ok",
      },
      {
        name: "iat five minutes ahead",
        token: () => sign(es, claims({ iat: now + 300 })),
        ok: false,
        reason: "issued_in_future",
      },
      {
        name: "wrong issuer",
        token: () => sign(es, claims({ iss: "https://evil.example" })),
        ok: false,
        reason: "unknown_issuer",
        local: true,
      },
      {
        name: "wrong audience",
        token: () => sign(es, claims({ aud: "someone-else" })),
        ok: false,
        reason: "bad_audience",
      },
      {
        name: "audience the review asks for",
        audiences: ["vault"],
        token: () => sign(es, claims({ aud: ["vault", AUDIENCE] })),
        ok: true,
        reason: "ok",
        statusAudiences: ["vault"],
      },
      {
        name: "alg none",
        token: () => unsigned(claims()),
        ok: false,
        reason: "alg_not_allowed",
        local: true,
      },
      {
        name: "HS/RS confusion: HS256 keyed with the RSA public PEM (HS256 allowed)",
        token: () =>
          sign(
            { alg: "HS256", kid: "rs-1", privateKey: new TextEncoder().encode(rs.spkiPem) },
            claims(),
          ),
        ok: false,
        reason: "bad_signature",
      },
      {
        name: "HS/RS confusion against a static PEM key (HS256 not allowed)",
        part: "B",
        token: () =>
          sign({ alg: "HS256", privateKey: new TextEncoder().encode(rs.spkiPem) }, claims()),
        ok: false,
        reason: "alg_not_allowed",
        local: true,
      },
      {
        name: "valid RS256 with the static PEM key",
        part: "B",
        token: () => sign({ ...rs, kid: undefined }, claims()),
        ok: true,
        reason: "ok",
      },
      {
        name: "tampered payload (org changed, signature kept)",
        token: () => {
          const [h, , s] = valid.split(".");
          return `${h}.${b64url(claims({ org_id: "org-evil" }))}.${s}`;
        },
        ok: false,
        reason: "bad_signature",
      },
      {
        name: "tampered signature",
        token: () => {
          const [h, p, s] = valid.split(".");
          const sig = Buffer.from(s, "base64url");
          sig[10] ^= 0x55;
          return `${h}.${p}.${sig.toString("base64url")}`;
        },
        ok: false,
        reason: "bad_signature",
      },
      {
        name: "signed by another key under a known kid",
        token: () => sign(other, claims()),
        ok: false,
        reason: "bad_signature",
      },
      {
        name: "oversized token",
        token: () => sign(es, claims({ pad: "x".repeat(5000) })),
        ok: false,
        reason: "token_too_large",
        local: true,
      },
      {
        name: "missing org_id",
        token: () => sign(es, claims({ org_id: undefined })),
        ok: false,
        reason: "invalid_claims",
      },
      {
        name: "missing exp",
        token: () => sign(es, claims({ exp: undefined })),
        ok: false,
        reason: "invalid_claims",
      },
      {
        name: "org_id forging a group (x:admin)",
        token: () => sign(es, claims({ org_id: "x:admin" })),
        ok: false,
        reason: "invalid_claims",
      },
      {
        name: "our service account",
        token: () =>
          sign(
            es,
            claims({
              principal_type: "service_account",
              principal_name: "deployer",
              sub: "sa-deployer@proj-456",
              email: undefined,
            }),
          ),
        ok: true,
        reason: "ok",
        username: "sa-deployer@proj-456",
        groups: [
          "org:org-123",
          "project:proj-456",
          "project:proj-456:admin",
          "system:serviceaccounts",
        ],
      },
      {
        name: "legacy Kubernetes ServiceAccount token",
        token: () =>
          sign(es, { iss: "kubernetes/serviceaccount", sub: "system:serviceaccount:default:x" }),
        ok: false,
        reason: "serviceaccount_token",
        local: true,
      },
      {
        name: "projected Kubernetes ServiceAccount token",
        token: () =>
          sign(rs, {
            iss: "https://kubernetes.default.svc.cluster.local",
            sub: "system:serviceaccount:a:b",
            "kubernetes.io": { namespace: "a" },
          }),
        ok: false,
        reason: "serviceaccount_token",
        local: true,
      },
      {
        name: "unknown kid (not in the JWKS even after a refetch)",
        token: () => sign({ ...es, kid: "nope" }, claims()),
        ok: false,
        reason: "unknown_kid",
      },
      {
        name: "not a JWT (bootstrap token shape)",
        token: () => "abcdef.0123456789abcdef",
        ok: false,
        reason: "unknown_format",
        local: true,
      },
      { name: "empty token", token: () => "", ok: false, reason: "empty_token", local: true },
      {
        name: "opaque token validated by the embedded IAM over gRPC",
        token: () => opaque.token,
        ok: true,
        reason: "ok",
        username: "user-7d0c3a2e-1b1f-4b8e-9a55-0c2f7f1d9e10",
        groups: ["org:org-9", "project:proj-9", "project:proj-9:viewer", "system:authenticated"],
      },
      {
        name: "opaque token IAM does not know",
        token: () => "pct_0000000000000000_unknown",
        ok: false,
        reason: "iam_rejected",
      },
      {
        name: "opaque token without an IAM fallback",
        part: "B",
        token: () => opaque.token,
        ok: false,
        reason: "opaque_disabled",
        local: true,
      },
      {
        name: "embedded issuer token (k8shost token issue)",
        token: async () =>
          (await mintToken(embedded, {
            ttlSeconds: 60,
            identity: {
              kind: "user",
              principalId: "user-x",
              principalName: "",
              email: "",
              orgId: "org-1",
              projectId: "p-1",
              roles: ["viewer"],
            },
          })).token,
        ok: true,
        reason: "ok",
        username: "user-x",
        groups: ["org:org-1", "project:p-1", "project:p-1:viewer", "system:authenticated"],
      },
    ];
    assert.ok(cases.length >= 20);

    for (const c of cases) {
      const p = c.part === "B" ? B : A;
      const token = await c.token();
      const result = c.ok ? "authenticated" : "unauthenticated";
      const before = counter(p, "k8shost_iam_webhook_requests_total", {
        code: "200",
        result,
        reason: c.reason,
      });
      const fetchesBefore = jwks.fetches;
      const iamBefore = sumCounter(p, "k8shost_iam_validate_token_calls_total");
      const res = await review(p.url, p.apiserver, token, {
        apiVersion: c.apiVersion,
        audiences: c.audiences,
      });
      const label = `case "${c.name}"`;
      assert.equal(res.status, 200, label);
      assert.equal(res.body.apiVersion, c.apiVersion ?? "authentication.k8s.io/v1", label);
      assert.equal(res.body.kind, "TokenReview", label);
      // deno-lint-ignore no-explicit-any
      const status = res.body.status as any;
      assert.equal(status.authenticated, c.ok, `${label}: ${JSON.stringify(status)}`);
      assert.equal(
        counter(p, "k8shost_iam_webhook_requests_total", { code: "200", result, reason: c.reason }),
        before + 1,
        `${label}: reason ${c.reason} not recorded`,
      );
      if (c.ok) {
        assert.equal(status.error, undefined, label);
        if (c.username) assert.equal(status.user.username, c.username, label);
        if (c.groups) assert.deepEqual(status.user.groups, c.groups, label);
        assert.deepEqual(status.audiences, c.statusAudiences, label);
      } else {
        assert.equal(typeof status.error, "string", label);
        assert.ok(status.error.length > 0, label);
        assert.equal(status.user, undefined, label);
        assert.ok(!status.error.includes(token) || token === "", `${label}: token echoed in error`);
      }
      if (c.local) {
        assert.equal(jwks.fetches, fetchesBefore, `${label}: fetched the JWKS`);
        assert.equal(
          sumCounter(p, "k8shost_iam_validate_token_calls_total"),
          iamBefore,
          `${label}: asked IAM`,
        );
      }
    }
    // The spec's example shape: uid and extra for the first case.
    const first = await review(A.url, A.apiserver, valid);
    // deno-lint-ignore no-explicit-any
    const user = (first.body.status as any).user;
    assert.equal(user.uid, "user-550e8400-e29b-41d4-a716-446655440000");
    assert.deepEqual(user.extra.org_id, ["org-123"]);
    assert.deepEqual(user.extra.project_id, ["proj-456"]);
    assert.deepEqual(user.extra.roles, ["project_admin"]);
    // No raw token in any log line.
    for (const line of [...A.logs, ...B.logs]) {
      assert.ok(!line.includes(valid), "token in a log line");
    }
  } finally {
    await a?.stop();
    await b?.stop();
    await jwks.close();
    await Deno.remove(dir, { recursive: true });
  }
});
