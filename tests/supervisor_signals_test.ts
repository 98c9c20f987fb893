/**
 * `k8shost server` as a real process: SIGTERM/SIGINT reach k3s (the stand-in), k8shost exits 0
 * and nothing of k3s's process group is left. Also the face's command-line errors (exit 2).
 */
import assert from "node:assert/strict";
import { main as serverMain } from "../mod/appliance/server.ts";
import { main as agentMain } from "../mod/appliance/agent.ts";
import { groupMembers } from "../mod/k3s/process.ts";
import { alive, FAKE_K3S, pathWithDeno, readStarts, waitFor } from "./supervisor_support.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function writeConfig(dir: string, extra = ""): Promise<string> {
  const file = `${dir}/config.yaml`;
  await Deno.writeTextFile(
    file,
    `dataDir: ${dir}/data
auditLog: { path: ${dir}/log/audit.log }
health: { listen: "127.0.0.1:0" }
iam: { enable: false }
fiberlb: { enable: false }
flashdns: { enable: false }
tenancy: { enable: false }
prismnet: { enable: false }
lightningstor: { enable: false }
k3s: { stopGrace: 5s }
${extra}`,
  );
  return file;
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`k8shost server process: ${signal} is forwarded to k3s, exit 0, no orphans`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "kh-sup-sig-" });
    const file = await writeConfig(dir);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "main.ts", "server", "--config", file, "--k3s-bin", FAKE_K3S],
      cwd: ROOT,
      env: {
        PATH: pathWithDeno(),
        FAKE_K3S_STATE_DIR: dir,
        FAKE_K3S_GRANDCHILD: "1",
        FAKE_K3S_READY_AFTER_MS: "50",
      },
      clearEnv: true,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const lines: Record<string, unknown>[] = [];
    const pump = (async () => {
      let buf = "";
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          try {
            lines.push(JSON.parse(line));
          } catch {
            lines.push({ msg: line });
          }
        }
      }
    })();
    try {
      await waitFor("k8shost ready", () => lines.some((l) => l.msg === "ready"), 30_000);
      const [k3s] = readStarts(dir);
      assert.ok(alive(k3s.pid) && alive(k3s.grandchild!));
      child.kill(signal);
      const status = await child.status;
      await pump;
      assert.equal(status.code, 0);
      assert.ok(
        lines.some((l) => l.component === "k3s" && l.msg === `Received ${signal}, shutting down`),
      );
      assert.ok(lines.some((l) => l.msg === `received ${signal}; stopping`));
      assert.equal(alive(k3s.pid), false);
      assert.equal(alive(k3s.grandchild!), false);
      assert.deepEqual(groupMembers(k3s.pid), []);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
      await pump.catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  });
}

/** Runs a face in-process, capturing what it prints. */
async function capture(
  fn: () => Promise<number>,
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    return { code: await fn(), out: out.join("\n"), err: err.join("\n") };
  } finally {
    [console.log, console.error] = [log, error];
  }
}

Deno.test("k8shost server/agent: --help lists flags and parts", async () => {
  const s = await capture(() => serverMain(["--help"]));
  assert.equal(s.code, 0);
  for (
    const flag of [
      "--no-k3s",
      "--kubeconfig FILE",
      "--parts a,b,c",
      "--disable-agent",
      "--k3s-bin FILE",
      "--config FILE",
      "--set KEY=VALUE",
    ]
  ) {
    assert.ok(s.out.includes(flag), flag);
  }
  assert.match(s.out, /^ {2}csi-node +LightningStor CSI node plugin.*\[node\]$/m);
  const a = await capture(() => agentMain(["-h"]));
  assert.equal(a.code, 0);
  assert.equal(a.out.includes("--disable-agent"), false);
  assert.equal(a.out.includes("  webhook"), false);
  assert.match(a.out, /^ {2}node +PrismNET node daemon/m);
});

Deno.test("k8shost server: bad command lines exit 2 with the reason", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kh-sup-flags-" });
  try {
    const file = await writeConfig(dir);
    const cases: [string[], RegExp][] = [
      [["--config", file, "--parts", "dsn"], /unknown part "dsn" — did you mean "dns"\?/],
      [["--config", file, "--kubeconfig", "/x"], /--kubeconfig is for attach mode: add --no-k3s/],
      [["--config", file, "--part", "dns"], /unknown flag "--part" — did you mean "--parts"\?/],
      [["--config", file, "--set", "k3s.stopGrace=soon"], /k3s\.stopGrace \(from --set\): "soon"/],
      [["--config", file, "--parts", "dns"], /part "dns" is turned off by flashdns\.enable: false/],
    ];
    for (const [args, message] of cases) {
      const r = await capture(() => serverMain(args));
      assert.equal(r.code, 2, args.join(" "));
      assert.match(r.err, message);
    }
    const agent = await capture(() => agentMain(["--config", file, "--disable-agent"]));
    assert.equal(agent.code, 2);
    assert.match(agent.err, /unknown flag "--disable-agent"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
