import assert from "node:assert/strict";
import dgram from "node:dgram";
import { type ConfigIssue, validate } from "../config/schema.ts";
import { type Config, configSpec } from "../config/spec.ts";
import { DOCTOR_CHECKS, formatFinding, runDoctor } from "./mod.ts";
import type { DoctorCheck, DoctorContext, Finding } from "./types.ts";

const dir = Deno.makeTempDirSync({ prefix: "kh-doctor-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

function configOf(raw: Record<string, unknown>): Config {
  const issues: ConfigIssue[] = [];
  const c = validate(configSpec, raw, "", issues) as Config;
  assert.deepEqual(issues, []);
  return c;
}

function ctx(raw: Record<string, unknown>, path: string[] = [], root = Deno.uid() === 0) {
  return { config: configOf(raw), path, root } satisfies DoctorContext;
}

function check(name: string): DoctorCheck {
  const c = DOCTOR_CHECKS.find((c) => c.name === name);
  assert.ok(c, `no doctor check ${name}`);
  return c;
}

function isFile(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

function script(name: string, body: string): string {
  const file = `${dir}/${name}`;
  Deno.writeTextFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

Deno.test("doctor: findings print as `status check: detail — fix: ...`", () => {
  assert.equal(
    formatFinding({ status: "fail", check: "k3s", detail: "missing", fix: "install it" }),
    "fail k3s: missing — fix: install it",
  );
  assert.equal(
    formatFinding({ status: "ok", check: "tool ip", detail: "/sbin/ip" }),
    "ok tool ip: /sbin/ip",
  );
});

Deno.test("doctor: k3s found, too old, broken, not k3s, missing", async () => {
  const good = script(
    "k3s-good",
    'echo "k3s version v1.31.4+k3s1 (a1b2c3d4)"; echo "go version go1.22"',
  );
  const old = script("k3s-old", 'echo "k3s version v1.24.17+k3s1 (026bb0ec)"');
  const broken = script("k3s-broken", 'echo "segfault" >&2; exit 3');
  const other = script("k3s-other", 'echo "hello"');
  const run = async (bin: string) => (await check("k3s").run(ctx({ k3s: { bin } })))[0];
  assert.deepEqual(await run(good), {
    status: "ok",
    check: "k3s",
    detail: `v1.31.4+k3s1 at ${good}`,
  });
  assert.deepEqual(await run(old), {
    status: "warn",
    check: "k3s",
    detail: `v1.24.17+k3s1 at ${old} is older than v1.28`,
    fix: "upgrade k3s to v1.28 or newer",
  });
  assert.equal(
    formatFinding(await run(broken)),
    `fail k3s: ${broken} --version exited 3: segfault — fix: reinstall k3s or point k3s.bin at a working k3s binary`,
  );
  assert.equal((await run(other)).status, "warn");
  assert.equal(
    formatFinding(await run(`${dir}/nope`)),
    `fail k3s: ${dir}/nope is not an executable file — fix: install k3s (NixOS: services.k8shost brings pkgs.k3s) or set k3s.bin to its path`,
  );
  // A bare name is looked up on the context's PATH only.
  const onPath = await check("k3s").run({ ...ctx({}), path: [`${dir}/empty-bin`] });
  assert.equal(onPath[0].detail, '"k3s" not found on PATH');
});

Deno.test("doctor: missing tools fail when an enabled part needs them, else warn", async () => {
  const bin = `${dir}/tools-bin`;
  Deno.mkdirSync(bin);
  for (const t of ["ip", "mount", "umount", "losetup"]) {
    const real = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map((d) => `${d}/${t}`)
      .find(isFile);
    Deno.symlinkSync(real!, `${bin}/${t}`);
  }
  const byCheck = (fs: Finding[]) => Object.fromEntries(fs.map((f) => [f.check, f]));
  const on = byCheck(await check("tools").run(ctx({}, [bin])));
  assert.equal(on["tool ip"].status, "ok");
  assert.match(on["tool ip"].detail, /^.*\/ip \(ip utility, iproute2-/);
  assert.deepEqual(on["tool mkfs.ext4"], {
    status: "fail",
    check: "tool mkfs.ext4",
    detail: "not found on PATH; ext4 is the default volume filesystem",
    fix: "apt-get install e2fsprogs (NixOS: add pkgs.e2fsprogs to the unit's path)",
  });
  assert.equal(on["tool mkfs.xfs"].status, "warn");
  const off = byCheck(await check("tools").run(ctx({ lightningstor: { enable: false } }, [bin])));
  assert.equal(off["tool mkfs.ext4"].status, "warn");
});

Deno.test("doctor: bridge and veth are created for real in a scratch netns", async () => {
  assert.equal(Deno.uid(), 0, "the kernel probe needs root (CI runs as root)");
  const found = await check("kernel links").run(
    ctx({}, ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]),
  );
  assert.deepEqual(found.map(formatFinding), [
    "ok kernel bridge: created a bridge in a scratch network namespace",
    "ok kernel veth: created a veth pair in a scratch network namespace",
  ]);
  const left = new TextDecoder().decode(
    (await new Deno.Command("ip", { args: ["netns", "list"] }).output()).stdout,
  );
  assert.doesNotMatch(left, new RegExp(`kh-doctor-${Deno.pid}-`), "the scratch netns is removed");
  const loop = await check("kernel loop").run(ctx({}));
  assert.deepEqual(loop.map(formatFinding), ["ok kernel loop: /dev/loop-control present"]);
});

Deno.test("doctor: ports in use fail (tcp and udp), free ones and port 0 pass", async () => {
  const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const udp = dgram.createSocket("udp4");
  await new Promise<void>((r) => udp.bind(0, "127.0.0.1", () => r()));
  try {
    const tcpPort = (tcp.addr as Deno.NetAddr).port;
    const udpPort = udp.address().port;
    const found = await check("ports").run(ctx({
      health: { listen: `127.0.0.1:${tcpPort}` },
      iam: { webhook: { listen: "127.0.0.1:0" } },
      flashdns: { listen: `127.0.0.1:${udpPort}` },
    }));
    const lines = found.map(formatFinding);
    assert.equal(
      lines[0],
      `fail port health.listen: 127.0.0.1:${tcpPort}: tcp in use (is k8shost already running?) — fix: stop what listens there (ss -ltunp 'sport = :${tcpPort}') or change health.listen`,
    );
    assert.equal(
      lines[1],
      "ok port iam.webhook.listen: 127.0.0.1:0: a free port is picked at start",
    );
    assert.match(
      lines[2],
      new RegExp(`^fail port flashdns.listen: 127.0.0.1:${udpPort}: udp in use`),
    );
    // Agents open neither the webhook nor DNS.
    const agent = await check("ports").run(ctx({ mode: "agent", health: { listen: "" } }));
    assert.deepEqual(agent, []);
  } finally {
    tcp.close();
    await new Promise<void>((r) => udp.close(() => r()));
  }
});

Deno.test("doctor: data dir missing, private, world-writable, not a directory", async () => {
  const run = async (dataDir: string) => (await check("data dir").run(ctx({ dataDir })))[0];
  assert.equal(
    formatFinding(await run(`${dir}/state/k8shost`)),
    `ok data dir: ${dir}/state/k8shost does not exist yet; it is created under ${dir} at start`,
  );
  const priv = `${dir}/private`;
  Deno.mkdirSync(priv, { mode: 0o700 });
  assert.equal(
    formatFinding(await run(priv)),
    `ok data dir: ${priv} mode 0700, owner uid ${Deno.uid()}, writable`,
  );
  const open = `${dir}/open`;
  Deno.mkdirSync(open);
  Deno.chmodSync(open, 0o777);
  assert.equal(
    formatFinding(await run(open)),
    `warn data dir: ${open} has mode 0777: other users can write k8shost state (keys, tokens) — fix: chmod 0700 ${open}`,
  );
  const file = `${dir}/plain-file`;
  Deno.writeTextFileSync(file, "");
  assert.equal((await run(file)).status, "fail");
  assert.equal((await run(file)).detail, `${file} is not a directory`);
});

Deno.test("doctor: checks run together, keep their order, and a crash is a finding", async () => {
  const slow: DoctorCheck = {
    name: "slow",
    run: () =>
      new Promise((r) =>
        setTimeout(() => r([{ status: "ok", check: "slow", detail: "done" }]), 20)
      ),
  };
  const crash: DoctorCheck = { name: "crash", run: () => Promise.reject(new Error("boom")) };
  const found = await runDoctor(ctx({}), [slow, crash]);
  assert.deepEqual(found.map(formatFinding), [
    "ok slow: done",
    "fail crash: check crashed: boom — fix: report this as a bug",
  ]);
});
