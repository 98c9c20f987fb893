/**
 * `k8shost doctor`: checks this host for what the appliance needs and prints one line per
 * finding, `ok|warn|fail <check>: <detail> — fix: <what to do>`; exit 1 when anything fails.
 */
import { formatIssue } from "../config/schema.ts";
import { DEFAULT_CONFIG_FILE, inspectConfig } from "../config/mod.ts";
import { type FaceSpec, FlagError, helpText, parseFlags, runFace } from "../config/flags.ts";
import { DOCTOR_CHECKS } from "./checks.ts";
import { type DoctorCheck, type DoctorContext, fail, type Finding, ok } from "./types.ts";

export type { DoctorCheck, DoctorContext, Finding } from "./types.ts";
export { DOCTOR_CHECKS } from "./checks.ts";

const FACE: FaceSpec = {
  command: "k8shost doctor",
  summary: "Check this host for what the appliance needs; each finding names its fix. " +
    "Exit 1 when a check fails.",
  flags: [{
    name: "mode",
    kind: "string",
    metavar: "server|agent",
    doc: "check for the `server` or `agent` role (default: mode from the config)",
  }],
};

export function formatFinding(f: Finding): string {
  return `${f.status} ${f.check}: ${f.detail}${f.fix ? ` — fix: ${f.fix}` : ""}`;
}

/** Runs the checks concurrently; findings come back in check order. */
export async function runDoctor(
  ctx: DoctorContext,
  checks: DoctorCheck[] = DOCTOR_CHECKS,
): Promise<Finding[]> {
  const results = await Promise.all(checks.map(async (c) => {
    try {
      return await c.run(ctx);
    } catch (err) {
      return [fail(c.name, `check crashed: ${(err as Error).message}`, "report this as a bug")];
    }
  }));
  return results.flat();
}

export function main(args: string[]): Promise<number> {
  return runFace(FACE.command, async () => {
    const flags = parseFlags(args, FACE);
    if (flags.help) {
      console.log(helpText(FACE));
      return 0;
    }
    const mode = flags.values.mode as string | undefined;
    if (mode !== undefined && mode !== "server" && mode !== "agent") {
      throw new FlagError(`--mode takes server or agent, not "${mode}"`, FACE.command);
    }
    const { config, issues } = await inspectConfig({ file: flags.config, set: flags.set, mode });
    const file = flags.config ?? DEFAULT_CONFIG_FILE;
    const configFindings = issues.length === 0
      ? [ok("config", `${file} is valid${flags.config ? "" : " (or absent: defaults)"}`)]
      : issues.map((i) =>
        fail("config", formatIssue(i), `correct it in ${file} (see k8shost config check)`)
      );
    const findings = [
      ...configFindings,
      ...await runDoctor({
        config,
        path: (Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":").filter(Boolean),
        root: Deno.uid() === 0,
      }),
    ];
    for (const f of findings) console.log(formatFinding(f));
    const count = (s: Finding["status"]) => findings.filter((f) => f.status === s).length;
    console.log(`doctor: ${count("ok")} ok, ${count("warn")} warn, ${count("fail")} fail`);
    return count("fail") > 0 ? 1 : 0;
  });
}
