/** `k8shost tenant apply|list|delete`: manage Projects from a shell. */
import { parse as parseYaml } from "yaml";
import { helpText, parseFlags, runFace } from "../config/flags.ts";
import { FlagError } from "../config/errors.ts";
import { loadConfig } from "../config/mod.ts";
import type { KubeApi } from "../kube/api.ts";
import { createKubeApi } from "../kube/mod.ts";
import { k3sKubeconfigPath } from "../kube/kubeconfig.ts";
import { type Project, validateProject } from "./project.ts";
import { PROJECTS } from "./resources.ts";

const FACE = {
  command: "k8shost tenant",
  summary: [
    "Manage Projects (one namespace per PlasmaCloud project).",
    "  apply  --org ORG --project ID [--name NAME] [--created-by WHO] [--quota key=value ...]",
    "         or --file project.yaml",
    "  list",
    "  delete ID",
  ].join("\n"),
  positionals: ["apply|list|delete", "[ID]"],
  flags: [
    {
      name: "kubeconfig",
      kind: "string" as const,
      metavar: "FILE",
      doc: "API server credentials (default: the supervised k3s's)",
    },
    { name: "org", kind: "string" as const, metavar: "ORG", doc: "organisation id" },
    { name: "project", kind: "string" as const, metavar: "ID", doc: "project id" },
    { name: "name", kind: "string" as const, metavar: "NAME", doc: "display name" },
    {
      name: "created-by",
      kind: "string" as const,
      metavar: "WHO",
      doc: "creator, recorded on the namespace",
    },
    {
      name: "quota",
      kind: "list" as const,
      metavar: "KEY=VALUE",
      doc: "quota override, e.g. pods=20 (repeatable)",
    },
    {
      name: "file",
      kind: "string" as const,
      metavar: "FILE",
      doc: "Project manifest (YAML or JSON)",
    },
  ],
};

export function main(args: string[]): Promise<number> {
  return runFace(FACE.command, async () => {
    const flags = parseFlags(args, FACE);
    if (flags.help) {
      console.log(helpText(FACE));
      return 0;
    }
    const [verb, id] = flags.positionals;
    const api = await kubeApi(
      flags.values.kubeconfig as string | undefined,
      flags.config,
      flags.set,
    );
    switch (verb) {
      case "apply":
        return await apply(api, flags.values);
      case "list":
        return await list(api);
      case "delete": {
        if (!id) throw new FlagError("delete needs a project id", FACE.command);
        await api.delete(PROJECTS, id);
        console.log(`project ${id} marked for deletion (namespace removed after the grace period)`);
        return 0;
      }
      default:
        throw new FlagError(
          `expected apply, list or delete, not ${JSON.stringify(verb ?? "")}`,
          FACE.command,
        );
    }
  });
}

async function kubeApi(
  explicit: string | undefined,
  config: string | undefined,
  set: string[],
): Promise<KubeApi> {
  if (explicit) return createKubeApi(explicit);
  const cfg = await loadConfig({ file: config, set });
  return createKubeApi(k3sKubeconfigPath(cfg.dataDir));
}

async function apply(api: KubeApi, v: Record<string, unknown>): Promise<number> {
  let project: Project;
  if (v.file) {
    const text = await Deno.readTextFile(v.file as string);
    project = parseYaml(text) as Project;
    project.apiVersion ??= "plasmacloud.io/v1";
    project.kind ??= "Project";
    project.metadata ??= {};
    project.metadata.name ??= project.spec?.projectId;
  } else {
    if (!v.org || !v.project) {
      throw new FlagError("apply needs --org and --project (or --file)", FACE.command);
    }
    const quota: Record<string, string | number> = {};
    for (const item of (v.quota as string[] | undefined) ?? []) {
      const [k, val] = item.split("=", 2);
      if (!k || val === undefined) {
        throw new FlagError(`--quota ${item}: expected key=value`, FACE.command);
      }
      quota[k] = /^\d+$/.test(val) && !/^(requests|limits)/.test(k) ? Number(val) : val;
    }
    project = {
      apiVersion: "plasmacloud.io/v1",
      kind: "Project",
      metadata: { name: v.project as string },
      spec: {
        orgId: v.org as string,
        projectId: v.project as string,
        ...(v.name ? { displayName: v.name as string } : {}),
        ...(v["created-by"] ? { createdBy: v["created-by"] as string } : {}),
        ...(Object.keys(quota).length ? { quota } : {}),
      },
    };
  }
  const problems = validateProject(project);
  if (problems.length) {
    console.error(`k8shost tenant: invalid project:\n  ${problems.join("\n  ")}`);
    return 2;
  }
  const have = await api.tryGet<Project>(PROJECTS, project.metadata.name!);
  if (have) {
    await api.replace(PROJECTS, { ...have, spec: project.spec });
    console.log(`project ${project.metadata.name} updated`);
  } else {
    await api.create(PROJECTS, project);
    console.log(`project ${project.metadata.name} created`);
  }
  return 0;
}

async function list(api: KubeApi): Promise<number> {
  const items = (await api.list<Project>(PROJECTS)).items;
  const rows = [["NAME", "ORG", "NAMESPACE", "READY", "MESSAGE"]];
  for (const p of items) {
    const ready = p.status?.conditions?.find((c) => c.type === "Ready");
    rows.push([
      p.metadata.name ?? "",
      p.spec?.orgId ?? "",
      p.status?.namespace ?? "",
      ready?.status ?? "Unknown",
      ready?.message ?? "",
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
  return 0;
}
