/** `k8shost config check|print` as a user runs it: a real process, exit codes, stdout/stderr. */
import assert from "node:assert/strict";
import { parse } from "yaml";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const dir = Deno.makeTempDirSync({ prefix: "kh-config-cli-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

async function k8shost(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-all", MAIN, ...args],
    env,
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("config check: OK on a valid file", async () => {
  const file = `${dir}/ok.yaml`;
  await Deno.writeTextFile(file, "networking:\n  clusterCIDR: 10.50.0.0/16\n");
  const r = await k8shost(["config", "check", "--config", file]);
  assert.equal(r.stdout, "config OK\n");
  assert.equal(r.code, 0);
});

Deno.test("config check: every issue on stderr, exit 2", async () => {
  const file = `${dir}/bad.json`;
  await Deno.writeTextFile(file, JSON.stringify({ networking: { serviceCIDR: "10.244.0.0/24" } }));
  const r = await k8shost(["config", "check", "--config", file, "--mode", "agent"], {
    K8SHOST_LOG_LEVEL: "chatty",
  });
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.equal(
    r.stderr,
    [
      "k8shost config: invalid configuration (4 problems):",
      '  log.level (from K8SHOST_LOG_LEVEL): "chatty" — expected one of debug, info, warn, error',
      '  networking.serviceCIDR: "10.244.0.0/24" — expected a CIDR that does not overlap networking.clusterCIDR (10.244.0.0/16)',
      '  serverUrl: "" — expected the https:// URL of a server to join (required when mode is agent)',
      '  tokenFile: "" — expected a file holding the cluster join token (required when mode is agent)',
      "",
    ].join("\n"),
  );
});

Deno.test("config: usage errors exit 2 with a did-you-mean", async () => {
  const r = await k8shost(["config", "chek"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown action "chek"/);
  const f = await k8shost(["config", "check", "--sett", "a=b"]);
  assert.equal(f.code, 2);
  assert.match(f.stderr, /unknown flag "--sett" — did you mean "--set"\?/);
  const h = await k8shost(["config", "--help"]);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /usage: k8shost config \[flags\] check\|print/);
});

Deno.test("config print: effective YAML with secrets redacted and durations readable", async () => {
  const token = `${dir}/token`;
  await Deno.writeTextFile(token, "K10-very-secret\n", { mode: 0o600 });
  const file = `${dir}/print.yaml`;
  await Deno.writeTextFile(file, `tokenFile: ${token}\nk3s:\n  stopGrace: 90s\n`);
  const r = await k8shost(["config", "print", "--config", file, "--set", "log.format=logfmt"], {
    K8SHOST_DATA_DIR: "/srv/kh",
  });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stdout.includes(token));
  const shown = parse(r.stdout);
  assert.equal(shown.tokenFile, "<redacted>");
  assert.equal(shown.k3s.stopGrace, "90s");
  assert.equal(shown.log.format, "logfmt");
  assert.equal(shown.dataDir, "/srv/kh");
  assert.equal(shown.networking.serviceCIDR, "10.96.0.0/12");
});
