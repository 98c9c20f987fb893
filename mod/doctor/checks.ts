/**
 * The doctor's checks, one function per host requirement. To add one (e.g. OVN endpoints),
 * write a DoctorCheck in its own file and append it to DOCTOR_CHECKS.
 */
import { type DoctorCheck, type DoctorContext, fail, type Finding, ok, warn } from "./types.ts";
import { runCommand, which } from "./host.ts";
import { kernelChecks } from "./kernel.ts";
import { dataDirCheck, portsCheck } from "./local.ts";
import { ovnCheck } from "./ovn.ts";

/** k3s itself must be older than this only with a warning: newer flags are used. */
const MIN_K3S_MINOR = 28;

const k3sCheck: DoctorCheck = {
  name: "k3s",
  async run({ config, path }) {
    const bin = config.k3s.bin;
    const found = which(bin, path);
    if (!found) {
      return [fail(
        "k3s",
        bin.includes("/") ? `${bin} is not an executable file` : `"${bin}" not found on PATH`,
        "install k3s (NixOS: services.k8shost brings pkgs.k3s) or set k3s.bin to its path",
      )];
    }
    const r = await runCommand(found, ["--version"]);
    if (r.code !== 0) {
      return [fail(
        "k3s",
        `${found} --version exited ${r.code}: ${firstLine(r.stderr || r.stdout)}`,
        "reinstall k3s or point k3s.bin at a working k3s binary",
      )];
    }
    const m = /k3s version (v1\.(\d+)\.\d+\S*)/.exec(r.stdout);
    if (!m) {
      return [warn(
        "k3s",
        `${found} --version printed "${firstLine(r.stdout)}", not a k3s version`,
        "check that k3s.bin is k3s",
      )];
    }
    if (Number(m[2]) < MIN_K3S_MINOR) {
      return [warn(
        "k3s",
        `${m[1]} at ${found} is older than v1.${MIN_K3S_MINOR}`,
        `upgrade k3s to v1.${MIN_K3S_MINOR} or newer`,
      )];
    }
    return [ok("k3s", `${m[1]} at ${found}`)];
  },
};

interface Tool {
  name: string;
  package: string;
  why: string;
  /** fail when needed by an enabled part, else warn. */
  required: (c: DoctorContext) => boolean;
  versionArgs?: string[];
}

const TOOLS: Tool[] = [
  {
    name: "ip",
    package: "iproute2",
    why: "PrismNET wires pod interfaces with it",
    required: (c) => c.config.prismnet.enable,
    versionArgs: ["-V"],
  },
  {
    name: "mount",
    package: "mount",
    why: "CSI volumes are mounted with it",
    required: (c) => c.config.lightningstor.enable,
  },
  {
    name: "umount",
    package: "mount",
    why: "CSI volumes are unmounted with it",
    required: (c) => c.config.lightningstor.enable,
  },
  {
    name: "losetup",
    package: "mount",
    why: "embedded LightningStor volumes are loop devices",
    required: (c) => c.config.lightningstor.enable,
  },
  {
    name: "mkfs.ext4",
    package: "e2fsprogs",
    why: "ext4 is the default volume filesystem",
    required: (c) => c.config.lightningstor.enable,
  },
  {
    name: "mkfs.xfs",
    package: "xfsprogs",
    why: "needed only for volumes with fsType xfs",
    required: () => false,
  },
];

const toolsCheck: DoctorCheck = {
  name: "tools",
  async run(ctx) {
    const out: Finding[] = [];
    for (const t of TOOLS) {
      const found = which(t.name, ctx.path);
      const check = `tool ${t.name}`;
      if (!found) {
        const fix =
          `apt-get install ${t.package} (NixOS: add pkgs.${t.package} to the unit's path)`;
        out.push(
          t.required(ctx)
            ? fail(check, `not found on PATH; ${t.why}`, fix)
            : warn(check, `not found on PATH; ${t.why}`, fix),
        );
        continue;
      }
      let version = "";
      if (t.versionArgs) {
        const r = await runCommand(found, t.versionArgs);
        version = r.code === 0 ? ` (${firstLine(r.stdout)})` : "";
      }
      out.push(ok(check, `${found}${version}`));
    }
    return out;
  },
};

export const DOCTOR_CHECKS: DoctorCheck[] = [
  k3sCheck,
  toolsCheck,
  ...kernelChecks,
  portsCheck,
  dataDirCheck,
  ovnCheck,
];

function firstLine(s: string): string {
  return s.trim().split("\n")[0] ?? "";
}
