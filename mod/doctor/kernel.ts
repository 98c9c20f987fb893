/**
 * Kernel features: bridge and veth are probed for real in a throwaway network namespace (a
 * module can be built in, so /sys/module alone proves nothing); loop via /dev/loop-control.
 */
import { type DoctorCheck, type DoctorContext, fail, type Finding, ok, warn } from "./types.ts";
import { runCommand, which } from "./host.ts";

async function probeLinks(ctx: DoctorContext): Promise<Finding[]> {
  const ip = which("ip", ctx.path);
  if (!ctx.root || !ip) {
    // Without root (or iproute2) only the loaded-module list can be consulted.
    return ["bridge", "veth"].map((m) =>
      exists(`/sys/module/${m}`) ? ok(`kernel ${m}`, `module ${m} is loaded`) : warn(
        `kernel ${m}`,
        `cannot probe ${m} links without ${ctx.root ? "iproute2" : "root"}`,
        "run k8shost doctor as root with iproute2 installed",
      )
    );
  }
  const ns = `kh-doctor-${Deno.pid}-${crypto.randomUUID().slice(0, 6)}`;
  const added = await runCommand(ip, ["netns", "add", ns]);
  if (added.code !== 0) {
    return [fail(
      "kernel netns",
      `ip netns add failed: ${added.stderr.trim()}`,
      "enable network namespaces (CONFIG_NET_NS) and run as root",
    )];
  }
  try {
    const bridge = await runCommand(ip, ["-n", ns, "link", "add", "khd-br", "type", "bridge"]);
    const veth = await runCommand(ip, [
      "-n",
      ns,
      "link",
      "add",
      "khd-v0",
      "type",
      "veth",
      "peer",
      "name",
      "khd-v1",
    ]);
    return [
      bridge.code === 0
        ? ok("kernel bridge", "created a bridge in a scratch network namespace")
        : fail(
          "kernel bridge",
          `cannot create a bridge: ${bridge.stderr.trim()}`,
          "modprobe bridge (or build the kernel with CONFIG_BRIDGE)",
        ),
      veth.code === 0
        ? ok("kernel veth", "created a veth pair in a scratch network namespace")
        : fail(
          "kernel veth",
          `cannot create a veth pair: ${veth.stderr.trim()}`,
          "modprobe veth (or build the kernel with CONFIG_VETH)",
        ),
    ];
  } finally {
    await runCommand(ip, ["netns", "del", ns]);
  }
}

const linkCheck: DoctorCheck = { name: "kernel links", run: probeLinks };

const loopCheck: DoctorCheck = {
  name: "kernel loop",
  run({ config }) {
    let isChar = false;
    try {
      isChar = Deno.statSync("/dev/loop-control").isCharDevice ?? false;
    } catch { /* missing */ }
    if (isChar) return Promise.resolve([ok("kernel loop", "/dev/loop-control present")]);
    const detail = "/dev/loop-control missing; embedded LightningStor volumes are loop devices";
    const fix = "modprobe loop (or build the kernel with CONFIG_BLK_DEV_LOOP)";
    return Promise.resolve([
      config.lightningstor.enable
        ? fail("kernel loop", detail, fix)
        : warn("kernel loop", detail, fix),
    ]);
  },
};

const sysctlCheck: DoctorCheck = {
  name: "kernel sysctls",
  run() {
    const out: Finding[] = [];
    const forward = read("/proc/sys/net/ipv4/ip_forward");
    out.push(
      forward === "1" ? ok("kernel ip_forward", "net.ipv4.ip_forward = 1") : warn(
        "kernel ip_forward",
        `net.ipv4.ip_forward = ${forward ?? "unknown"}; pod traffic is not routed off the node`,
        "sysctl -w net.ipv4.ip_forward=1 and persist it in /etc/sysctl.d (NixOS: boot.kernel.sysctl)",
      ),
    );
    out.push(
      exists("/proc/sys/net/bridge/bridge-nf-call-iptables")
        ? ok("kernel br_netfilter", "bridged traffic passes iptables")
        : warn(
          "kernel br_netfilter",
          "br_netfilter not loaded; Service traffic between pods on one bridge is not NATed",
          'modprobe br_netfilter (NixOS: boot.kernelModules = [ "br_netfilter" ])',
        ),
    );
    const mounts = read("/proc/mounts") ?? "";
    out.push(
      /\scgroup2?\s/.test(mounts)
        ? ok("kernel cgroups", /\scgroup2\s/.test(mounts) ? "cgroup2 mounted" : "cgroup v1 mounted")
        : warn(
          "kernel cgroups",
          "no cgroup filesystem mounted; the kubelet cannot run pods",
          "mount cgroup2 on /sys/fs/cgroup (systemd does this at boot)",
        ),
    );
    return Promise.resolve(out);
  },
};

export const kernelChecks: DoctorCheck[] = [linkCheck, loopCheck, sysctlCheck];

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

function read(p: string): string | undefined {
  try {
    return Deno.readTextFileSync(p).trim();
  } catch {
    return undefined;
  }
}
