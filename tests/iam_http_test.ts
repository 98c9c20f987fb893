/**
 * The webhook as an HTTPS server: mTLS, malformed requests, metrics, logs, and the TLS files
 * and kubeconfig it generates for kube-apiserver.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { generateCa, issueLeaf } from "../mod/iam/pki.ts";
import { webhookKubeconfigPath } from "../mod/iam/webhook_files.ts";
import { loadIssuer, mintToken } from "../mod/iam/issuer.ts";
import { rawPost, review, startPart, tempDir, WEBHOOK_PATH } from "./iam_helpers.ts";

function status(body: Record<string, unknown>) {
  // deno-lint-ignore no-explicit-any
  return body.status as any;
}

async function embeddedToken(config: Parameters<typeof loadIssuer>[0]) {
  const issuer = await loadIssuer(config);
  return (await mintToken(issuer, {
    ttlSeconds: 120,
    identity: {
      kind: "user",
      principalId: "user-1",
      principalName: "",
      email: "",
      orgId: "o1",
      projectId: "p1",
      roles: [],
    },
  })).token;
}

Deno.test("mTLS: no client cert or a foreign one is refused; the kubeconfig's cert is accepted", async () => {
  const p = await startPart();
  const foreignCa = await generateCa("kh-iam-foreign");
  const foreign = await issueLeaf(foreignCa, { commonName: "intruder", usage: "client" });
  const anonymous = Deno.createHttpClient({ caCerts: [p.caPem] });
  const intruder = Deno.createHttpClient({
    caCerts: [p.caPem],
    cert: foreign.certPem,
    key: foreign.keyPem,
  });
  const noTrust = Deno.createHttpClient({});
  try {
    const token = await embeddedToken(p.config);
    assert.equal(status((await review(p.url, p.apiserver, token)).body).authenticated, true);
    await assert.rejects(() => review(p.url, anonymous, token), "no client certificate");
    await assert.rejects(() => review(p.url, intruder, token), "client cert from another CA");
    await assert.rejects(
      () => review(p.url, noTrust, token),
      "server cert not trusted without the CA",
    );
  } finally {
    anonymous.close();
    intruder.close();
    noTrust.close();
    await p.stop();
  }
});

Deno.test("optional client cert: none is fine, an invalid one gets 403", async () => {
  const p = await startPart({ webhook: { requireClientCert: false } });
  const foreignCa = await generateCa("kh-iam-foreign");
  const foreign = await issueLeaf(foreignCa, { commonName: "intruder", usage: "client" });
  const anonymous = Deno.createHttpClient({ caCerts: [p.caPem] });
  const intruder = Deno.createHttpClient({
    caCerts: [p.caPem],
    cert: foreign.certPem,
    key: foreign.keyPem,
  });
  try {
    const token = await embeddedToken(p.config);
    assert.equal(status((await review(p.url, anonymous, token)).body).authenticated, true);
    const res = await review(p.url, intruder, token);
    assert.equal(res.status, 403);
    assert.equal(res.body.kind, "Status");
  } finally {
    anonymous.close();
    intruder.close();
    await p.stop();
  }
});

Deno.test("bad input: 400 Status bodies (or an unauthenticated review) with clear messages", async () => {
  const p = await startPart({ webhook: { maxBodyBytes: 2048 } });
  try {
    const c = p.apiserver;
    const json = { "content-type": "application/json" };
    const cases: [string, () => ReturnType<typeof rawPost>, number, RegExp][] = [
      ["malformed JSON", () => rawPost(p.url, c, "{not json", json), 400, /not valid JSON/],
      ["JSON but not an object", () => rawPost(p.url, c, "[1,2]", json), 400, /JSON object/],
      [
        "wrong kind",
        () =>
          rawPost(
            p.url,
            c,
            JSON.stringify({
              kind: "SubjectAccessReview",
              apiVersion: "authentication.k8s.io/v1",
              spec: {},
            }),
            json,
          ),
        400,
        /kind must be "TokenReview"/,
      ],
      [
        "wrong apiVersion",
        () =>
          rawPost(
            p.url,
            c,
            JSON.stringify({
              kind: "TokenReview",
              apiVersion: "authentication.k8s.io/v2",
              spec: {},
            }),
            json,
          ),
        400,
        /apiVersion must be one of/,
      ],
      [
        "token not a string",
        () =>
          rawPost(
            p.url,
            c,
            JSON.stringify({
              kind: "TokenReview",
              apiVersion: "authentication.k8s.io/v1",
              spec: { token: 5 },
            }),
            json,
          ),
        400,
        /spec.token must be a string/,
      ],
      [
        "wrong content type",
        () => rawPost(p.url, c, "{}", { "content-type": "text/plain" }),
        400,
        /content-type must be application\/json/,
      ],
      [
        "oversized body",
        () => rawPost(p.url, c, JSON.stringify({ pad: "x".repeat(4000) }), json),
        400,
        /exceeds 2048 bytes/,
      ],
      ["GET", () => rawPost(p.url, c, "", {}, { method: "GET" }), 405, /POST/],
      [
        "wrong path",
        () => rawPost(p.url, c, "{}", json, { path: "/apis/other" }),
        404,
        new RegExp(WEBHOOK_PATH.replace(/\./g, "\\.")),
      ],
    ];
    for (const [name, send, code, msg] of cases) {
      const res = await send();
      assert.equal(res.status, code, name);
      assert.equal(res.body.kind, "Status", name);
      assert.equal(res.body.code, code, name);
      assert.match(String(res.body.message), msg, name);
      assert.ok(!JSON.stringify(res.body).includes("at "), `${name}: no stack trace`);
    }
    const empty = await review(p.url, c, "");
    assert.equal(empty.status, 200);
    assert.deepEqual(status(empty.body), { authenticated: false, error: "token is empty" });
    assert.match(
      p.metrics.render(),
      /k8shost_iam_webhook_requests_total\{code="400",reason="malformed_request",result="bad_request"\} 7/,
    );
  } finally {
    await p.stop();
  }
});

Deno.test("metrics and logs: results by reason, latency, cache hits; tokens only as fingerprints", async () => {
  const p = await startPart();
  try {
    const token = await embeddedToken(p.config);
    for (let i = 0; i < 3; i++) await review(p.url, p.apiserver, token);
    await review(p.url, p.apiserver, "not-a-token");
    const m = p.metrics.render();
    assert.match(
      m,
      /k8shost_iam_webhook_requests_total\{code="200",reason="ok",result="authenticated"\} 3/,
    );
    assert.match(
      m,
      /k8shost_iam_webhook_requests_total\{code="200",reason="unknown_format",result="unauthenticated"\} 1/,
    );
    assert.match(
      m,
      /k8shost_iam_webhook_request_duration_seconds_count\{result="authenticated"\} 3/,
    );
    assert.match(m, /k8shost_iam_webhook_cache_lookups_total\{result="hit"\} 2/);
    assert.match(m, /k8shost_iam_webhook_cache_lookups_total\{result="miss"\} 2/);
    assert.match(m, /k8shost_iam_webhook_cache_hit_ratio 0\.5/);
    const reviewLines = p.logs.filter((l) => l.includes('"token review"'));
    assert.equal(reviewLines.length, 4);
    const all = p.logs.join("\n");
    assert.ok(!all.includes(token), "raw token logged");
    assert.ok(!all.includes("not-a-token"), "raw rejected token logged");
    const { fingerprint } = await import("../mod/log/mod.ts");
    assert.ok(all.includes(await fingerprint(token)), "the fingerprint is what correlates");
  } finally {
    await p.stop();
  }
});

Deno.test("generated TLS files and webhook kubeconfig: modes, names, reuse on restart", async () => {
  const p = await startPart();
  let dir = "";
  try {
    dir = `${p.dataDir}/iam`;
    const mode = async (f: string) => (await Deno.stat(`${dir}/${f}`)).mode! & 0o777;
    for (
      const f of [
        "ca.key",
        "webhook.key",
        "apiserver-client.key",
        "issuer.jwk",
        "webhook-kubeconfig.yaml",
      ]
    ) {
      assert.equal(await mode(f), 0o600, f);
    }
    assert.equal(webhookKubeconfigPath(p.config), `${dir}/webhook-kubeconfig.yaml`);
    // deno-lint-ignore no-explicit-any
    const kc = p.kubeconfig as any;
    assert.equal(kc.kind, "Config");
    assert.equal(kc["current-context"], "webhook");
    assert.equal(kc.clusters[0].cluster.server, `https://127.0.0.1:${p.part.port}${WEBHOOK_PATH}`);
    assert.equal(kc.clusters[0].cluster["certificate-authority"], `${dir}/ca.crt`);
    assert.equal(kc.users[0].user["client-certificate"], `${dir}/apiserver-client.crt`);
    const serving = new X509Certificate(await Deno.readTextFile(`${dir}/webhook.crt`));
    assert.ok(
      serving.checkIP("127.0.0.1") && serving.checkHost("localhost") &&
        serving.checkHost("kh-iam-test-node"),
    );
    const client = new X509Certificate(await Deno.readTextFile(`${dir}/apiserver-client.crt`));
    assert.ok(client.checkIssued(new X509Certificate(await Deno.readTextFile(`${dir}/ca.crt`))));
  } finally {
    await p.part.stop();
  }
  // A restart reuses the CA and certificates (kube-apiserver keeps trusting them).
  const before = await Deno.readTextFile(`${dir}/webhook.crt`);
  const caBefore = await Deno.readTextFile(`${dir}/ca.crt`);
  await p.part.start(new AbortController().signal);
  try {
    assert.equal(await Deno.readTextFile(`${dir}/webhook.crt`), before);
    assert.equal(await Deno.readTextFile(`${dir}/ca.crt`), caBefore);
    // A key that no longer matches its certificate (torn write) gets the leaf re-issued.
    await p.part.stop();
    const other = await issueLeaf(await generateCa("x"), { commonName: "x", usage: "server" });
    await Deno.writeTextFile(`${dir}/webhook.key`, other.keyPem);
    await p.part.start(new AbortController().signal);
    assert.notEqual(await Deno.readTextFile(`${dir}/webhook.crt`), before);
  } finally {
    await p.stop();
  }
});

Deno.test("plain HTTP when tls is off (debugging), and configured serving certs", async () => {
  const dir = await tempDir();
  try {
    const ca = await generateCa("kh-iam-own-ca");
    const leaf = await issueLeaf(ca, {
      commonName: "webhook",
      usage: "server",
      ips: ["127.0.0.1"],
    });
    await Deno.writeTextFile(`${dir}/tls.crt`, leaf.certPem);
    await Deno.writeTextFile(`${dir}/tls.key`, leaf.keyPem);
    await Deno.writeTextFile(`${dir}/ca.crt`, ca.certPem);
    const own = await startPart({
      webhook: { certFile: `${dir}/tls.crt`, keyFile: `${dir}/tls.key`, caFile: `${dir}/ca.crt` },
    });
    try {
      assert.equal(own.caPem, ca.certPem, "the kubeconfig names the configured CA");
      const token = await embeddedToken(own.config);
      assert.equal(status((await review(own.url, own.apiserver, token)).body).authenticated, true);
    } finally {
      await own.stop();
    }
    const plain = await startPart({ webhook: { tls: false } });
    try {
      assert.match(plain.url, /^http:\/\/127\.0\.0\.1:\d+\//);
      const token = await embeddedToken(plain.config);
      assert.equal(
        status((await review(plain.url, plain.apiserver, token)).body).authenticated,
        true,
      );
    } finally {
      await plain.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
