/** `k8shost doctor` end to end: a real process, its config, its lines and exit code. */
import assert from "node:assert/strict";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const dir = Deno.makeTempDirSync({ prefix: "kh-doctor-main-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

const LINE = /^(ok|warn|fail) [^:]+: .+$/;

async function doctor(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-all", MAIN, "doctor", ...args],
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    lines: dec.decode(out.stdout).trimEnd().split("\n"),
    stderr: dec.decode(out.stderr),
  };
}

function writeConfig(name: string, k3sBin: string): string {
  const file = `${dir}/${name}.yaml`;
  Deno.writeTextFileSync(
    file,
    [
      `dataDir: ${dir}/data`,
      "k3s:",
      `  bin: ${k3sBin}`,
      "health:",
      "  listen: 127.0.0.1:0",
      "iam:",
      "  webhook:",
      "    listen: 127.0.0.1:0",
      "flashdns:",
      "  listen: 127.0.0.1:0",
    ].join("\n"),
  );
  return file;
}

Deno.test("doctor main: every line is a finding, exit 1 exactly when one fails", async () => {
  const k3s = `${dir}/k3s`;
  Deno.writeTextFileSync(k3s, '#!/bin/sh\necho "k3s version v1.31.4+k3s1 (abc)"\n', {
    mode: 0o755,
  });
  const r = await doctor(["--config", writeConfig("good", k3s)]);
  const findings = r.lines.slice(0, -1);
  for (const line of findings) assert.match(line, LINE);
  assert.equal(findings[0], `ok config: ${dir}/good.yaml is valid`);
  assert.ok(findings.includes(`ok k3s: v1.31.4+k3s1 at ${k3s}`), r.lines.join("\n"));
  const fails = findings.filter((l) => l.startsWith("fail "));
  const warns = findings.filter((l) => l.startsWith("warn "));
  assert.equal(
    r.lines.at(-1),
    `doctor: ${
      findings.length - fails.length - warns.length
    } ok, ${warns.length} warn, ${fails.length} fail`,
  );
  assert.equal(r.code, fails.length > 0 ? 1 : 0, r.lines.join("\n"));
  for (const w of [...fails, ...warns]) assert.match(w, / — fix: \S/);
});

Deno.test("doctor main: a missing k3s and an invalid config fail with fixes", async () => {
  const file = writeConfig("bad", `${dir}/no-such-k3s`);
  const r = await doctor(["--config", file, "--set", "networking.clusterCIDR=10.96.0.0/16"]);
  assert.equal(r.code, 1);
  assert.ok(
    r.lines.includes(
      `fail config: networking.serviceCIDR: "10.96.0.0/12" — expected a CIDR that does not overlap networking.clusterCIDR (10.96.0.0/16) — fix: correct it in ${file} (see k8shost config check)`,
    ),
    r.lines.join("\n"),
  );
  assert.ok(r.lines.includes(
    `fail k3s: ${dir}/no-such-k3s is not an executable file — fix: install k3s (NixOS: services.k8shost brings pkgs.k3s) or set k3s.bin to its path`,
  ));
});

Deno.test("doctor main: --help and bad flags", async () => {
  const h = await doctor(["--help"]);
  assert.equal(h.code, 0);
  assert.match(h.lines[0], /^usage: k8shost doctor/);
  const b = await doctor(["--mdoe", "agent"]);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /unknown flag "--mdoe" — did you mean "--mode"\?/);
});
