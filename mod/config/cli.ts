/** `k8shost config check|print`: validate the configuration, or show it with secrets redacted. */
import { stringify } from "yaml";
import { loadConfig, redactedConfig } from "./mod.ts";
import { FlagError, helpText, parseFlags, runFace } from "./flags.ts";
import type { FaceSpec } from "./flags.ts";

const FACE: FaceSpec = {
  command: "k8shost config",
  summary: [
    'check: validate the configuration (file < K8SHOST_* env < --set); prints "config OK" or',
    "       every problem, exit 2 when invalid.",
    "print: show the effective configuration as YAML, secrets redacted.",
  ].join("\n"),
  positionals: ["check|print"],
  flags: [{
    name: "mode",
    kind: "string",
    metavar: "server|agent",
    doc: "validate as the `server` or `agent` subcommand would (default: mode from the config)",
  }],
};

export function main(args: string[]): Promise<number> {
  return runFace(FACE.command, async () => {
    const flags = parseFlags(args, FACE);
    if (flags.help) {
      console.log(helpText(FACE));
      return 0;
    }
    const [action] = flags.positionals;
    if (action !== "check" && action !== "print") {
      throw new FlagError(
        action === undefined ? "missing action: check or print" : `unknown action "${action}"`,
        FACE.command,
      );
    }
    const mode = flags.values.mode as string | undefined;
    if (mode !== undefined && mode !== "server" && mode !== "agent") {
      throw new FlagError(`--mode takes server or agent, not "${mode}"`, FACE.command);
    }
    const config = await loadConfig({ file: flags.config, set: flags.set, mode });
    if (action === "check") console.log("config OK");
    else console.log(stringify(redactedConfig(config), { lineWidth: 0 }).trimEnd());
    return 0;
  });
}
