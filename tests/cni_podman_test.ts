/**
 * prismnet under a real libcni runtime: Debian's podman 4.3 with its CNI backend (CNI 1.0.0
 * only). Podman validates the conflist (VERSION with placeholder env), runs ADD when a pod's
 * infra container starts, passes --ip/--mac-address as CNI_ARGS IP=/MAC=, and DEL on removal.
 * Everything podman keeps (storage, config) lives in a temp dir. Needs root, podman, runc,
 * catatonit (the infra image is built locally from it; nothing is pulled).
 */
import assert from "node:assert/strict";
import { NodeHarness, ping, ROOT, sh } from "./cni_helpers.ts";

Deno.test("podman (libcni 1.0, CNI backend) attaches and detaches pods through prismnet", async () => {
  const h = await NodeHarness.create();
  const dir = await Deno.makeTempDir({ prefix: "khcni-podman-" });
  const base = h.cidr.split(".").slice(0, 2).join(".");
  await Deno.mkdir(`${dir}/net.d`);
  await Deno.mkdir(`${dir}/bin`);
  await Deno.symlink(`${ROOT}scripts/k8shost`, `${dir}/bin/prismnet`);
  await Deno.writeTextFile(
    `${dir}/containers.conf`,
    [
      "[containers]",
      // The sandbox's hard limits are below podman's defaults.
      'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]',
      "[network]",
      'network_backend = "cni"',
      `cni_plugin_dirs = ["${dir}/bin"]`,
      `network_config_dir = "${dir}/net.d"`,
      "[engine]",
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
    ].join("\n") + "\n",
  );
  await Deno.writeTextFile(
    `${dir}/net.d/${h.network}.conflist`,
    JSON.stringify({
      cniVersion: "1.0.0",
      name: h.network,
      plugins: [{
        type: "prismnet",
        capabilities: { ips: true, mac: true },
        prismnet: { socket: h.socket },
      }],
    }),
  );
  const podman = (...args: string[]) =>
    sh([
      "podman",
      "--root",
      `${dir}/root`,
      "--runroot",
      `${dir}/runroot`,
      "--storage-driver",
      "vfs",
      "--runtime",
      "runc",
      ...args,
    ], {
      env: {
        PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin",
        HOME: Deno.env.get("HOME") ?? "/root",
        CONTAINERS_CONF: `${dir}/containers.conf`,
      },
    });
  const net = async (pod: string) => {
    const infra = (await podman("pod", "inspect", pod, "--format", "{{.InfraContainerID}}")).stdout
      .trim();
    const r = await podman("inspect", infra, "--format", "{{json .NetworkSettings}}");
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as {
      SandboxKey: string;
      Networks: Record<string, { IPAddress: string; Gateway: string; MacAddress: string }>;
    };
  };
  try {
    const ls = await podman("network", "ls", "--format", "{{.Name}}");
    assert.equal(ls.code, 0, ls.stderr);
    assert.ok(
      ls.stdout.split("\n").includes(h.network),
      `podman accepts the conflist: ${ls.stdout} ${ls.stderr}`,
    );

    for (
      const [pod, extra] of [["khcnipod1", []], ["khcnipod2", [
        "--ip",
        `${base}.0.50`,
        "--mac-address",
        "02:12:34:56:78:9a",
      ]]] as const
    ) {
      const c = await podman(
        "pod",
        "create",
        "--name",
        `${pod}-${h.id}`,
        "--network",
        h.network,
        ...extra,
      );
      assert.equal(c.code, 0, c.stderr);
      const s = await podman("pod", "start", `${pod}-${h.id}`);
      assert.equal(s.code, 0, s.stderr);
    }
    const one = await net(`khcnipod1-${h.id}`);
    const two = await net(`khcnipod2-${h.id}`);
    const a = one.Networks[h.network];
    const b = two.Networks[h.network];
    assert.equal(a.Gateway, `${base}.0.1`);
    assert.equal(b.IPAddress, `${base}.0.50`, "--ip reached prismnet");
    assert.equal(b.MacAddress, "02:12:34:56:78:9a", "--mac-address reached prismnet");
    assert.equal((await h.leases()).length, 2);
    const nsName = one.SandboxKey.split("/").pop()!;
    assert.ok(await ping(nsName, a.Gateway), "the pod reaches its gateway");
    assert.ok(await ping(nsName, b.IPAddress), "the pod reaches the other pod");

    const rm = await podman("pod", "rm", "-f", `khcnipod1-${h.id}`, `khcnipod2-${h.id}`);
    assert.equal(rm.code, 0, rm.stderr);
    assert.deepEqual(await h.leases(), [], "podman's DEL released both leases");
    assert.deepEqual(await h.ports(), []);
    assert.deepEqual(await h.records(), []);
  } finally {
    await podman("pod", "rm", "-f", "--all");
    await h.cleanup();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
