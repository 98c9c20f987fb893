import assert from "node:assert/strict";
import { stringify } from "yaml";
import { ConfigError, loadConfig, redactedConfig } from "./mod.ts";
import { formatIssue } from "./schema.ts";

const dir = Deno.makeTempDirSync({ prefix: "kh-config-load-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

function write(name: string, text: string): string {
  const file = `${dir}/${name}`;
  Deno.writeTextFileSync(file, text);
  return file;
}

async function issuesOf(p: Promise<unknown>): Promise<string[]> {
  const err = await p.then(() => assert.fail("expected a ConfigError"), (e) => e);
  assert.ok(err instanceof ConfigError, String(err));
  return err.issues.map(formatIssue);
}

const SAMPLE = {
  dataDir: "/srv/k8shost",
  networking: { clusterCIDR: "10.50.0.0/16", tlsSans: ["api.example.org", "192.0.2.1"] },
  k3s: { stopGrace: "45s" },
  fiberlb: { pools: ["public=192.0.2.0/25,192.0.2.200-192.0.2.210"] },
};

Deno.test("load: YAML and JSON files give the same config", async () => {
  const y = await loadConfig({ file: write("sample.yaml", stringify(SAMPLE)), env: {} });
  const j = await loadConfig({ file: write("sample.json", JSON.stringify(SAMPLE)), env: {} });
  assert.deepEqual(y, j);
  assert.equal(y.dataDir, "/srv/k8shost");
  assert.equal(y.networking.clusterCIDR, "10.50.0.0/16");
  assert.equal(y.networking.serviceCIDR, "10.96.0.0/12", "defaults fill the rest");
  assert.deepEqual(y.networking.tlsSans, ["api.example.org", "192.0.2.1"]);
  assert.equal(y.k3s.stopGrace, 45_000);
  assert.deepEqual(y.fiberlb.pools, SAMPLE.fiberlb.pools);
});

Deno.test("load: an empty file and a missing default file both mean defaults", async () => {
  const empty = await loadConfig({ file: write("empty.yaml", ""), env: {} });
  const none = await loadConfig({ defaultFile: `${dir}/absent.yaml`, env: {} });
  assert.deepEqual(empty, none);
  assert.equal(none.mode, "server");
  assert.equal(none.datastore, "sqlite");
});

Deno.test("load: a missing explicit file, or a required default one, is an error", async () => {
  assert.deepEqual(await issuesOf(loadConfig({ file: `${dir}/gone.yaml`, env: {} })), [
    `--config: "${dir}/gone.yaml" — expected a readable config file (no such file)`,
  ]);
  const required = loadConfig({ defaultFile: `${dir}/gone.yaml`, requireFile: true, env: {} });
  assert.equal((await issuesOf(required)).length, 1);
  assert.deepEqual(await issuesOf(loadConfig({ file: dir, env: {} })), [
    `--config: "${dir}" — expected a readable config file (is a directory)`,
  ]);
});

Deno.test("load: syntax errors name the file, the parser's reason and position", async () => {
  const yaml = write("broken.yaml", "log:\n  level: [\n");
  assert.deepEqual(await issuesOf(loadConfig({ file: yaml, env: {} })), [
    `${yaml}: (unparseable) — expected valid YAML (Flow sequence in block collection must be sufficiently indented and end with a ] at line 3, column 1)`,
  ]);
  const dup = write("dup.yaml", "log: {}\nlog: {}\n");
  assert.deepEqual(await issuesOf(loadConfig({ file: dup, env: {} })), [
    `${dup}: (unparseable) — expected valid YAML (Map keys must be unique at line 2, column 1)`,
  ]);
  const json = write("broken.json", '{"log": }');
  assert.deepEqual(await issuesOf(loadConfig({ file: json, env: {} })), [
    `${json}: (unparseable) — expected valid JSON (Unexpected token '}', "{"log": }" is not valid JSON)`,
  ]);
  const list = write("list.yaml", "- a\n");
  assert.deepEqual(await issuesOf(loadConfig({ file: list, env: {} })), [
    `${list}: ["a"] — expected a mapping of keys to values at the top level`,
  ]);
});

Deno.test("load: precedence is file < env < --set < subcommand mode", async () => {
  const file = write("prec.yaml", "mode: agent\nserverUrl: https://s:6443\nlog:\n  level: warn\n");
  const env = { K8SHOST_LOG_LEVEL: "error", K8SHOST_LOG_FORMAT: "logfmt", HOME: "/root" };
  const fileOnly = await loadConfig({ file, env: {}, mode: "server", set: ["serverUrl="] });
  assert.equal(fileOnly.log.level, "warn");
  const withEnv = await loadConfig({ file, env, mode: "server", set: ["serverUrl="] });
  assert.equal(withEnv.log.level, "error");
  assert.equal(withEnv.log.format, "logfmt");
  const withSet = await loadConfig({
    file,
    env,
    mode: "server",
    set: ["serverUrl=", "log.level=debug", "log.level=info"],
  });
  assert.equal(withSet.log.level, "info", "the last --set of a key wins");
  assert.equal(withSet.log.format, "logfmt");
  assert.equal(withSet.mode, "server", "the subcommand's mode beats the file's");
});

Deno.test("load: env and --set values are typed by the schema", async () => {
  const c = await loadConfig({
    defaultFile: `${dir}/absent.yaml`,
    env: {
      K8SHOST_NETWORKING_TLS_SANS: "a.example, b.example",
      K8SHOST_K3S_STOP_GRACE: "2m",
      K8SHOST_PRISMNET_MTU: "1450",
      K8SHOST_AUDIT_LOG_ENABLE: "false",
      K8SHOST_FIBERLB_POOLS: '["a=192.0.2.0/28,192.0.2.64/28", "b=198.51.100.0/24"]',
    },
    set: ["flashdns.enable=false", "iam.jwt.audiences=[k8s, 'x,y']"],
  });
  assert.deepEqual(c.networking.tlsSans, ["a.example", "b.example"]);
  assert.equal(c.k3s.stopGrace, 120_000);
  assert.equal(c.prismnet.mtu, 1450);
  assert.equal(c.auditLog.enable, false);
  assert.deepEqual(c.fiberlb.pools, ["a=192.0.2.0/28,192.0.2.64/28", "b=198.51.100.0/24"]);
  assert.equal(c.flashdns.enable, false);
  assert.deepEqual(c.iam.jwt.audiences, ["k8s", "x,y"]);
});

Deno.test("load: issues from env and --set name their source", async () => {
  const issues = await issuesOf(loadConfig({
    defaultFile: `${dir}/absent.yaml`,
    env: { K8SHOST_PRISMNET_MTU: "jumbo", K8SHOST_NETWORKING_SERVICE_CIDR: "10.244.0.0/20" },
    set: ["log.levl=debug", "nodeName", "health.listen=localhost:http"],
  }));
  assert.deepEqual(issues, [
    '--set log.levl: "debug" — expected a known key path — did you mean "log.level"?',
    '--set: "nodeName" — expected key.path=value, e.g. log.level=debug',
    'health.listen (from --set): "localhost:http" — expected host:port such as 127.0.0.1:10258',
    'prismnet.mtu (from K8SHOST_PRISMNET_MTU): "jumbo" — expected an integer >= 576 and <= 65535',
    'networking.serviceCIDR (from K8SHOST_NETWORKING_SERVICE_CIDR): "10.244.0.0/20" — expected a CIDR that does not overlap networking.clusterCIDR (10.244.0.0/16)',
  ]);
});

Deno.test("load: a valid HA and agent setup passes every check", async () => {
  const token = write("token", "secret\n");
  const first = await loadConfig({
    file: write("ha.yaml", stringify({ datastore: "etcd", clusterInit: true, tokenFile: token })),
    env: {},
  });
  assert.equal(first.clusterInit, true);
  const joining = await loadConfig({
    file: write("join.yaml", stringify({ serverUrl: "https://10.0.0.1:6443", tokenFile: token })),
    env: {},
    mode: "agent",
  });
  assert.equal(joining.mode, "agent");
  assert.equal(joining.serverUrl, "https://10.0.0.1:6443");
});

Deno.test("print: secrets are redacted, durations formatted, the rest kept", async () => {
  const token = write("token2", "K10topsecret\n");
  const c = await loadConfig({
    defaultFile: `${dir}/absent.yaml`,
    env: {},
    set: [`tokenFile=${token}`, `iam.tokenFile=${token}`, "k3s.readyTimeout=90s"],
  });
  const shown = redactedConfig(c) as Record<string, Record<string, unknown>>;
  assert.equal(shown.tokenFile, "<redacted>");
  assert.equal(shown.iam.tokenFile, "<redacted>");
  assert.equal(shown.iam.keyFile, "", "unset secrets stay visibly unset");
  assert.equal(shown.k3s.readyTimeout, "90s");
  assert.equal(shown.k3s.restartBackoff, "1s");
  assert.equal((shown.fiberlb as Record<string, unknown>).endpointDebounce, "200ms");
  assert.equal(shown.dataDir, "/var/lib/k8shost");
  assert.ok(!JSON.stringify(shown).includes(token), "no secret path anywhere");
  assert.equal(c.tokenFile, token, "redaction does not touch the config itself");
});

Deno.test("load: a K8SHOST_ variable one typo from a key is reported, others are ignored", async () => {
  const issues = await issuesOf(loadConfig({
    defaultFile: `${dir}/absent.yaml`,
    env: { K8SHOST_LOG_LEVLE: "debug", K8SHOST_SOMETHING_ELSE: "x", K8SHOST_DENO_PREFIX: "/x" },
  }));
  assert.deepEqual(issues, [
    'K8SHOST_LOG_LEVLE: "debug" — expected a known variable — did you mean K8SHOST_LOG_LEVEL?',
  ]);
});

Deno.test("checks: input files are every *File(s) path key except those k8shost writes", async () => {
  const { FILE_CHECKS } = await import("./checks_services.ts");
  const { leaves } = await import("./schema.ts");
  const { configSpec } = await import("./spec.ts");
  const names = FILE_CHECKS.map((c) => c.name);
  assert.ok(names.includes("readable:tokenFile"));
  assert.ok(names.includes("readable:iam.jwt.publicKeyFiles"));
  assert.ok(!names.some((n) => n.endsWith(":dataDir")));
  for (const [at, spec] of leaves(configSpec)) {
    const p = spec.kind === "list" ? spec.of : spec;
    const input = /Files?$/.test(at) && p.kind === "path" && !p.written;
    assert.equal(names.includes(`readable:${at}`), input, at);
  }
});
