/** The embedded IAM service over real gRPC: issue, validate, revoke, persistence, authorisation. */
import assert from "node:assert/strict";
import { Status } from "../mod/grpc/mod.ts";
import { IamClient } from "../mod/iam/iam_client.ts";
import { EmbeddedIam, startEmbeddedIam } from "../mod/iam/iam_service.ts";
import type { Identity } from "../mod/iam/identity.ts";
import { loadIssuer, mintToken } from "../mod/iam/issuer.ts";
import { OpaqueTokenStore } from "../mod/iam/token_store.ts";
import { makeConfig, tempDir } from "./iam_helpers.ts";

const viewer: Identity = {
  kind: "user",
  principalId: "user-viewer",
  principalName: "Vera",
  email: "vera@example.com",
  orgId: "org-a",
  projectId: "proj-a",
  roles: ["project_viewer"],
};

async function start(dir: string, address: string, trustLocalCallers: boolean) {
  const config = makeConfig({ dataDir: dir });
  const issuer = await loadIssuer(config);
  const store = await OpaqueTokenStore.open(`${dir}/iam/tokens.json`);
  const iam = new EmbeddedIam({
    issuer,
    store,
    leewaySeconds: 30,
    maxTtlSeconds: 86400,
    trustLocalCallers,
  });
  return { issuer, store, server: await startEmbeddedIam(address, iam) };
}

Deno.test("embedded IAM: opaque tokens issued, validated, revoked, and persisted (digests only)", async () => {
  const dir = await tempDir();
  let s = await start(dir, `unix://${dir}/iam.sock`, true);
  let client = new IamClient({ endpoint: s.server.target, timeoutMs: 5000 });
  try {
    const issued = await client.issueToken({ identity: viewer, ttlSeconds: 600, format: "opaque" });
    assert.match(issued.token, /^pct_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const v = await client.validateToken(issued.token);
    assert.equal(v.valid, true);
    assert.deepEqual(v.identity, viewer);
    assert.equal(v.tokenId, issued.tokenId);
    assert.equal(v.expiresAt, issued.expiresAt);
    assert.deepEqual(v.audiences, ["k8shost"]);
    assert.equal(
      (await client.validateToken(issued.token, ["vault"])).valid,
      false,
      "audience filter",
    );

    const state = await Deno.readTextFile(`${dir}/iam/tokens.json`);
    assert.ok(!state.includes(issued.token.slice(4)), "the state file holds no token");
    assert.equal((await Deno.stat(`${dir}/iam/tokens.json`)).mode! & 0o777, 0o600);

    // Restart: the token is still known.
    client.close();
    await s.server.stop();
    s = await start(dir, `unix://${dir}/iam.sock`, true);
    client = new IamClient({ endpoint: s.server.target, timeoutMs: 5000 });
    assert.equal((await client.validateToken(issued.token)).valid, true);

    assert.equal(await client.revokeToken(issued.tokenId), true);
    assert.equal(await client.revokeToken(issued.tokenId), false, "revoking twice is a no-op");
    const revoked = await client.validateToken(issued.token);
    assert.deepEqual([revoked.valid, revoked.reason], [false, "token revoked"]);
    assert.equal((await client.validateToken("pct_0123456789abcdef_nope")).reason, "unknown token");

    // JWTs of the embedded issuer validate too; JWKS is the issuer's public key.
    const jwt = await client.issueToken({ identity: viewer, ttlSeconds: 60 });
    assert.equal((await client.validateToken(jwt.token)).valid, true);
    const jwks = await client.getJwks() as { keys: Record<string, unknown>[] };
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0].kid, s.issuer.kid);
    assert.equal(jwks.keys[0].d, undefined, "no private member");

    await assert.rejects(
      () => client.validateToken(""),
      (e: { code: number }) => e.code === Status.INVALID_ARGUMENT,
    );
    await assert.rejects(
      () => client.issueToken({ identity: { ...viewer, orgId: "bad:org" }, ttlSeconds: 60 }),
      (e: { code: number }) => e.code === Status.INVALID_ARGUMENT,
    );
    await assert.rejects(
      () => client.issueToken({ identity: viewer, ttlSeconds: 10 ** 9 }),
      (e: { code: number; details: string }) =>
        e.code === Status.INVALID_ARGUMENT && /ttl_seconds/.test(e.details),
    );
  } finally {
    client.close();
    await s.server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("embedded IAM on TCP: only an org admin of the org may issue or revoke", async () => {
  const dir = await tempDir();
  const s = await start(dir, "127.0.0.1:0", false);
  const asToken = (token?: string) =>
    new IamClient({
      endpoint: s.server.target,
      timeoutMs: 5000,
      token: token ? () => token : undefined,
    });
  const admin = (org: string) =>
    mintToken(s.issuer, {
      ttlSeconds: 60,
      identity: { ...viewer, principalId: "user-adm", orgId: org, roles: ["org_admin"] },
    });
  const anonymous = asToken();
  const member = asToken((await mintToken(s.issuer, { ttlSeconds: 60, identity: viewer })).token);
  const otherAdmin = asToken((await admin("org-b")).token);
  const orgAdmin = asToken((await admin("org-a")).token);
  try {
    const req = { identity: viewer, ttlSeconds: 60, format: "opaque" as const };
    await assert.rejects(
      () => anonymous.issueToken(req),
      (e: { code: number }) => e.code === Status.UNAUTHENTICATED,
    );
    await assert.rejects(
      () => member.issueToken(req),
      (e: { code: number }) => e.code === Status.PERMISSION_DENIED,
    );
    await assert.rejects(
      () => otherAdmin.issueToken(req),
      (e: { code: number }) => e.code === Status.PERMISSION_DENIED,
    );
    const t = await orgAdmin.issueToken(req);
    assert.equal(
      (await anonymous.validateToken(t.token)).valid,
      true,
      "validation needs no credentials",
    );
    await assert.rejects(
      () => member.revokeToken(t.tokenId),
      (e: { code: number }) => e.code === Status.PERMISSION_DENIED,
    );
    await assert.rejects(
      () => otherAdmin.revokeToken(t.tokenId),
      (e: { code: number }) => e.code === Status.PERMISSION_DENIED,
    );
    assert.equal(await orgAdmin.revokeToken(t.tokenId), true);
  } finally {
    for (const c of [anonymous, member, otherAdmin, orgAdmin]) c.close();
    await s.server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
