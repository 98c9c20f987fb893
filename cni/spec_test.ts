import assert from "node:assert/strict";
import {
  compareVersions,
  decodeConfig,
  ERR,
  errorOutput,
  ifnameProblem,
  isCniError,
  parseCniArgs,
  pluginSettings,
  readEnv,
  replyVersion,
  SUPPORTED_VERSIONS,
  versionOutput,
} from "./spec.ts";

const envOf = (m: Record<string, string>) => (k: string) => m[k];

Deno.test("readEnv: required variables per command, named in the error", () => {
  const none = readEnv(envOf({}));
  assert.ok(isCniError(none) && none.code === ERR.invalidEnv && /CNI_COMMAND/.test(none.msg));
  const add = readEnv(envOf({ CNI_COMMAND: "ADD", CNI_IFNAME: "eth0" }));
  assert.ok(isCniError(add));
  assert.equal(add.code, ERR.invalidEnv);
  assert.equal(add.msg, "required env variables [CNI_CONTAINERID,CNI_NETNS] missing");
  const del = readEnv(envOf({ CNI_COMMAND: "DEL", CNI_CONTAINERID: "c1", CNI_IFNAME: "eth0" }));
  assert.ok(!isCniError(del), "DEL needs no netns");
  for (const cmd of ["STATUS", "GC", "VERSION"]) {
    assert.ok(!isCniError(readEnv(envOf({ CNI_COMMAND: cmd }))), cmd);
  }
  const unknown = readEnv(envOf({ CNI_COMMAND: "GET" }));
  assert.ok(isCniError(unknown) && unknown.code === ERR.invalidEnv);
});

Deno.test("readEnv: container id, ifname, netns and CNI_ARGS are validated", () => {
  const base = {
    CNI_COMMAND: "ADD",
    CNI_CONTAINERID: "abc",
    CNI_NETNS: "/var/run/netns/x",
    CNI_IFNAME: "eth0",
  };
  assert.ok(!isCniError(readEnv(envOf(base))));
  for (
    const [k, v] of [
      ["CNI_CONTAINERID", "-abc"],
      ["CNI_CONTAINERID", "a b"],
      ["CNI_IFNAME", "eth0:1"],
      ["CNI_IFNAME", "0123456789abcdef"],
      ["CNI_NETNS", "relative/path"],
      ["CNI_ARGS", "novalue"],
    ]
  ) {
    const r = readEnv(envOf({ ...base, [k]: v }));
    assert.ok(isCniError(r) && r.code === ERR.invalidEnv, `${k}=${v}`);
  }
});

Deno.test("ifnameProblem follows the spec's interface name rules", () => {
  assert.equal(ifnameProblem("eth0"), undefined);
  assert.equal(ifnameProblem("a".repeat(15)), undefined);
  assert.match(ifnameProblem("a".repeat(16))!, /15/);
  assert.match(ifnameProblem("")!, /empty/);
  assert.match(ifnameProblem(".")!, /\./);
  assert.match(ifnameProblem("a\tb")!, /whitespace/);
  assert.match(ifnameProblem("ä".repeat(8))!, /15 bytes/, "bytes, not characters");
});

Deno.test("parseCniArgs keeps = inside values and skips empty pairs", () => {
  assert.deepEqual(parseCniArgs("A=1;;B=x=y;K8S_POD_NAMESPACE=default"), {
    A: "1",
    B: "x=y",
    K8S_POD_NAMESPACE: "default",
  });
  assert.ok(isCniError(parseCniArgs("=1")));
});

Deno.test("decodeConfig: decode failure 6, version 1, name 7, command minimum versions", () => {
  const d = (s: string, cmd: Parameters<typeof decodeConfig>[1] = "ADD") => decodeConfig(s, cmd);
  const bad = d("{");
  assert.ok(isCniError(bad) && bad.code === ERR.decodingFailure);
  const arr = d("[]");
  assert.ok(isCniError(arr) && arr.code === ERR.decodingFailure);
  const noVer = d(`{"name":"n"}`);
  assert.ok(
    isCniError(noVer) && noVer.code === ERR.incompatibleVersion,
    "missing cniVersion means 0.1.0",
  );
  const newer = d(`{"cniVersion":"1.2.0","name":"n"}`);
  assert.ok(isCniError(newer) && newer.code === ERR.incompatibleVersion);
  const noName = d(`{"cniVersion":"1.0.0"}`);
  assert.ok(isCniError(noName) && noName.code === ERR.invalidConfig);
  const check = d(`{"cniVersion":"0.3.1","name":"n"}`, "CHECK");
  assert.ok(isCniError(check) && check.code === ERR.incompatibleVersion);
  for (const cmd of ["GC", "STATUS"] as const) {
    const r = d(`{"cniVersion":"1.0.0","name":"n"}`, cmd);
    assert.ok(isCniError(r) && r.code === ERR.incompatibleVersion, cmd);
    assert.ok(!isCniError(d(`{"cniVersion":"1.1.0","name":"n"}`, cmd)), cmd);
  }
  for (const v of SUPPORTED_VERSIONS) {
    assert.ok(!isCniError(d(`{"cniVersion":"${v}","name":"n"}`)), v);
  }
});

Deno.test("versions compare numerically; replies mirror known versions", () => {
  assert.equal(compareVersions("0.10.0", "0.4.0"), 1);
  assert.equal(compareVersions("1.0.0", "1.0.0"), 0);
  assert.equal(compareVersions("garbage", "0.1.0"), -1);
  assert.equal(replyVersion({ cniVersion: "0.4.0" }), "0.4.0");
  assert.equal(replyVersion({ cniVersion: "7.0.0" }), "1.1.0");
  assert.equal(replyVersion(undefined), "1.1.0");
  assert.deepEqual(JSON.parse(versionOutput("1.0.0")), {
    cniVersion: "1.0.0",
    supportedVersions: [...SUPPORTED_VERSIONS],
  });
  assert.deepEqual(JSON.parse(errorOutput("1.0.0", { code: 11, msg: "m" })), {
    cniVersion: "1.0.0",
    code: 11,
    msg: "m",
  });
  assert.deepEqual(
    JSON.parse(errorOutput("1.0.0", { code: 7, msg: "m", details: "d" })).details,
    "d",
  );
});

Deno.test("pluginSettings reads prismnet.socket and timeoutSeconds with safe defaults", () => {
  assert.deepEqual(pluginSettings({}), { socket: "/run/k8shost/prismnet.sock", timeoutMs: 60_000 });
  assert.deepEqual(pluginSettings({ prismnet: { socket: "/x.sock", timeoutSeconds: 5 } }), {
    socket: "/x.sock",
    timeoutMs: 5000,
  });
  assert.deepEqual(pluginSettings({ prismnet: { socket: "rel", timeoutSeconds: -1 } }), {
    socket: "/run/k8shost/prismnet.sock",
    timeoutMs: 60_000,
  });
});
