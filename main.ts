/**
 * k8shost: one program, several faces. This file only dispatches; each face is loaded lazily
 * so that the CNI face (invoked as `prismnet` by containerd) starts in milliseconds.
 */
type Face = (args: string[]) => Promise<number>;

const FACES: Record<string, { summary: string; load: () => Promise<Face> }> = {
  server: {
    summary: "run the control plane: supervise k3s server and the embedded parts",
    load: async () => (await import("./mod/appliance/server.ts")).main,
  },
  agent: {
    summary: "run a worker: supervise k3s agent and the node daemon",
    load: async () => (await import("./mod/appliance/agent.ts")).main,
  },
  token: {
    summary: "issue or inspect IAM tokens (embedded issuer)",
    load: async () => (await import("./mod/iam/cli.ts")).main,
  },
  tenant: {
    summary: "apply, list or delete Projects (namespace-per-project tenancy)",
    load: async () => (await import("./mod/tenancy/cli.ts")).main,
  },
  config: {
    summary: "check or print the effective configuration",
    load: async () => (await import("./mod/config/cli.ts")).main,
  },
  doctor: {
    summary: "check this host for what the appliance needs",
    load: async () => (await import("./mod/doctor/mod.ts")).main,
  },
  version: {
    summary: "print the version",
    load: () => Promise.resolve((args) => Promise.resolve(printVersion(args))),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(FACES).map((k) => k.length));
  const lines = Object.entries(FACES).map(([k, f]) => `  ${k.padEnd(width)}  ${f.summary}`);
  return [
    "usage: k8shost <command> [options]",
    "",
    "commands:",
    ...lines,
    `  ${"help".padEnd(width)}  show this help`,
    "",
    "Invoked as `prismnet` (or with CNI_COMMAND set) k8shost is the PrismNET CNI plugin.",
    "Run `k8shost <command> --help` for a command's options.",
  ].join("\n");
}

function printVersion(args: string[] = []): number {
  if (args.includes("--help") || args.includes("-h")) {
    console.log("usage: k8shost version\n\nPrint the k8shost and Deno versions.");
  } else console.log(`k8shost ${VERSION} (deno ${Deno.version.deno})`);
  return 0;
}

export const VERSION = "0.1.0";

/**
 * Basename of argv[0] as invoked (a symlink's own name, unlike Deno.execPath()). This is what
 * `process.argv0` holds, read from /proc instead: importing node:process starts Deno's Node
 * compatibility layer, ~20 ms that the CNI face would pay on every pod network operation.
 */
function invokedAs(): string {
  try {
    const cmdline = Deno.readFileSync("/proc/self/cmdline");
    const end = cmdline.indexOf(0);
    const argv0 = new TextDecoder().decode(end < 0 ? cmdline : cmdline.subarray(0, end));
    return argv0.slice(argv0.lastIndexOf("/") + 1);
  } catch {
    return "";
  }
}

async function dispatch(args: string[]): Promise<number> {
  if (invokedAs() === "prismnet" || Deno.env.get("CNI_COMMAND") !== undefined) {
    return (await import("./cni/plugin.ts")).main();
  }
  const [command, ...rest] = args;
  if (command === "help" && rest[0] !== undefined && Object.hasOwn(FACES, rest[0])) {
    return (await FACES[rest[0]].load())(["--help"]);
  }
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    const out = usage();
    if (command === undefined) {
      console.error(out);
      return 2;
    }
    console.log(out);
    return 0;
  }
  if (command === "--version") return printVersion();
  // hasOwn: "toString" or "constructor" are unknown commands, not Object.prototype members.
  const face = Object.hasOwn(FACES, command) ? FACES[command] : undefined;
  if (!face) {
    console.error(`k8shost: unknown command "${command}"\n\n${usage()}`);
    return 2;
  }
  return (await face.load())(rest);
}

if (import.meta.main) {
  Deno.exit(await dispatch(Deno.args));
}
