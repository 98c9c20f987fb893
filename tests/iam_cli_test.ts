/** `k8shost token issue|inspect` run as the real program (subprocesses through main.ts). */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { review, startPart, tempDir } from "./iam_helpers.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));

async function k8shost(args: string[], stdin?: string) {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
  const child = cmd.spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: dec(out.stdout), stderr: dec(out.stderr) };
}

Deno.test("token issue mints what the running webhook accepts; inspect explains verdicts", async () => {
  const p = await startPart();
  try {
    const set = ["--set", `dataDir=${p.dataDir}`];
    const issued = await k8shost([
      "token",
      "issue",
      ...set,
      "--org",
      "org-123",
      "--project",
      "proj-456",
      "--user",
      "alice@example.com",
      "--role",
      "project_viewer",
      "--role",
      "org_admin",
      "--ttl",
      "15m",
    ]);
    assert.equal(issued.code, 0, issued.stderr);
    const token = issued.stdout.trim();
    assert.match(token, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.ok(!issued.stderr.includes(token), "the token goes to stdout only");

    const res = await review(p.url, p.apiserver, token);
    // deno-lint-ignore no-explicit-any
    const user = (res.body.status as any).user;
    assert.equal(user.username, "alice@example.com");
    assert.deepEqual(user.groups, [
      "org:org-123",
      "project:proj-456",
      "project:proj-456:viewer",
      "org:org-123:admin",
      "k8s:org-admin",
      "system:authenticated",
    ]);

    const sa = await k8shost([
      "token",
      "issue",
      ...set,
      "--org",
      "o",
      "--project",
      "p",
      "--sa",
      "deployer",
      "--role",
      "project_editor",
    ]);
    assert.equal(sa.code, 0, sa.stderr);
    const ok = await k8shost(["token", "inspect", ...set, "--json", "-"], sa.stdout);
    assert.equal(ok.code, 0, ok.stderr);
    const report = JSON.parse(ok.stdout);
    assert.equal(report.accepted, true);
    assert.equal(report.user.username, "sa-deployer@p");
    assert.ok(report.user.groups.includes("system:serviceaccounts"));

    const tampered = token.slice(0, -4) + (token.endsWith("AAAA") ? "BBBB" : "AAAA");
    const bad = await k8shost(["token", "inspect", ...set, tampered]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /REJECTED \(bad_signature\)/);
    const sat = await k8shost(["token", "inspect", ...set, "--offline", "abcdef.0123456789abcdef"]);
    assert.equal(sat.code, 1);
    assert.match(sat.stdout, /REJECTED \(unknown_format\)/);
  } finally {
    await p.stop();
  }
});

Deno.test("token issue: bad flags are usage errors (exit 2) naming the flag", async () => {
  const dir = await tempDir();
  try {
    const set = ["--set", `dataDir=${dir}`];
    const cases: [string[], RegExp][] = [
      [["token", "issue", ...set, "--user", "a@b.co"], /--org is required/],
      [["token", "issue", ...set, "--org", "o"], /--user or --sa is required/],
      [["token", "issue", ...set, "--org", "o:x", "--user", "u"], /--org/],
      [["token", "issue", ...set, "--org", "o", "--user", "u", "--ttl", "forever"], /--ttl/],
      [["token", "issue", ...set, "--org", "o", "--user", "u", "--ttl", "10000h"], /maxTTL/],
      [["token", "issue", ...set, "--org", "o", "--sa", "x"], /--project/],
      [["token", "frobnicate", ...set], /unknown action/],
    ];
    for (const [args, msg] of cases) {
      const r = await k8shost(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, msg, args.join(" "));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
