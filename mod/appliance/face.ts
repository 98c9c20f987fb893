/** The command line of `k8shost server` and `k8shost agent`. */
import { type FaceSpec, FlagError, helpText, parseFlags, runFace } from "../config/flags.ts";
import { loadConfig } from "../config/mod.ts";
import { K3sArgsError } from "../k3s/args.ts";
import { configureLogging, type LogFormat, logger, type LogLevel } from "../log/mod.ts";
import { PART_CATALOG, PartSelectionError } from "./parts.ts";
import { runAppliance } from "./run.ts";

export function faceSpec(role: "server" | "agent"): FaceSpec {
  return {
    command: `k8shost ${role}`,
    summary: role === "server"
      ? "Run the control plane: supervise `k3s server` and run the embedded parts (and, as k3s\n" +
        "server also runs a kubelet, the node parts unless --disable-agent)."
      : "Run a worker: supervise `k3s agent` and run the node parts.",
    flags: [
      { name: "no-k3s", kind: "bool", doc: "attach mode: run the parts without supervising k3s" },
      {
        name: "kubeconfig",
        kind: "string",
        metavar: "FILE",
        doc: "attach mode: the cluster's kubeconfig",
      },
      {
        name: "parts",
        kind: "list",
        metavar: "a,b,c",
        doc: "run only these parts (default: every enabled part)",
      },
      ...(role === "server"
        ? [{
          name: "disable-agent",
          kind: "bool" as const,
          doc: "no kubelet and no node parts on this server",
        }]
        : []),
      {
        name: "k3s-bin",
        kind: "string",
        metavar: "FILE",
        doc: "k3s executable (default: k3s.bin, `k3s` on PATH)",
      },
    ],
  };
}

function partsHelp(role: "server" | "agent"): string {
  const rows = PART_CATALOG.filter((p) => role === "server" || p.scope === "node");
  const width = Math.max(...rows.map((p) => p.name.length));
  return [
    "",
    "parts (in start order):",
    ...rows.map((p) =>
      `  ${p.name.padEnd(width)}  ${p.summary}${p.scope === "node" ? " [node]" : ""}`
    ),
  ].join("\n");
}

/** Exit codes: 0 stopped by SIGTERM/SIGINT, 1 a runtime failure, 2 a bad command line or config. */
export function applianceMain(role: "server" | "agent", args: string[]): Promise<number> {
  const face = faceSpec(role);
  return runFace(face.command, async () => {
    const f = parseFlags(args, face);
    if (f.help) {
      console.log(helpText(face) + "\n" + partsHelp(role));
      return 0;
    }
    const noK3s = f.values["no-k3s"] === true;
    const kubeconfig = f.values.kubeconfig as string | undefined;
    if (kubeconfig !== undefined && !noK3s) {
      throw new FlagError(
        "--kubeconfig is for attach mode: add --no-k3s (k3s writes its own)",
        face.command,
      );
    }
    const set = [...f.set];
    if (f.values["k3s-bin"] !== undefined) set.push(`k3s.bin=${f.values["k3s-bin"]}`);
    const config = await loadConfig({ file: f.config, set, mode: role });
    configureLogging({
      level: config.log.level as LogLevel,
      format: config.log.format as LogFormat,
    });

    const ac = new AbortController();
    const log = logger(role);
    const handlers = (["SIGTERM", "SIGINT"] as const).map((sig) => {
      const h = () => {
        if (ac.signal.aborted) return log.warn(`received ${sig} again; still stopping`);
        log.info(`received ${sig}; stopping`);
        ac.abort(sig);
      };
      Deno.addSignalListener(sig, h);
      return () => Deno.removeSignalListener(sig, h);
    });
    try {
      return await runAppliance({
        role,
        config,
        noK3s,
        kubeconfig,
        parts: f.values.parts as string[] | undefined,
        disableAgent: f.values["disable-agent"] === true,
        stop: ac.signal,
      });
    } catch (e) {
      if (e instanceof PartSelectionError) throw new FlagError(e.message, face.command);
      if (e instanceof K3sArgsError) {
        console.error(`${face.command}: ${e.message}`);
        return 2;
      }
      throw e;
    } finally {
      handlers.forEach((remove) => remove());
    }
  });
}
