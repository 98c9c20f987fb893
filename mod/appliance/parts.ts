/**
 * The catalog of parts the appliance can run, in start order. Each part's module is imported
 * (literal specifiers, so `deno check` and `deno compile` see them) only when the part is
 * selected: `k8shost agent` never loads the controllers, and a module that fails to load (or
 * lacks its factory) is a startup error for that part alone.
 */
import type { Config } from "../config/spec.ts";
import { didYouMean } from "../config/schema.ts";
import type { PartFactory } from "./context.ts";

export interface PartSpec {
  /** The name used by `--parts`, /readyz, logs and metrics. */
  name: string;
  /**
   * `server`: runs in `k8shost server`. `node`: runs on every node that has a kubelet — in
   * `k8shost agent`, and in `k8shost server` unless --disable-agent.
   */
  scope: "server" | "node";
  /** Cannot do anything without the Kubernetes API (fails at once when there is no kubeconfig). */
  needsApi: boolean;
  /** Whether the config turns it on (the default selection). */
  enabled(config: Config): boolean;
  /** The config key that turns it off, for messages. */
  enableKey: string;
  summary: string;
  /** The module path, for messages. */
  module: string;
  load(): Promise<PartFactory>;
}

/**
 * Imports a part's module and picks its factory; a module that fails to load or lacks the export
 * is an error naming both, which fails that part only.
 */
export async function loadFactory(
  module: string,
  importer: () => Promise<Record<string, unknown>>,
  name: string,
): Promise<PartFactory> {
  let mod: Record<string, unknown>;
  try {
    mod = await importer();
  } catch (e) {
    throw new Error(`${module} cannot be loaded: ${(e as Error).message.split("\n")[0]}`);
  }
  const f = mod[name];
  if (typeof f !== "function") throw new Error(`${module} does not export ${name}`);
  return f as PartFactory;
}

/**
 * Start order: the webhook first (API authentication), then the node daemon (pods get
 * networking), then the controllers, the CSI controller, and last the CSI node plugin, which
 * shares the controller's socket when both run on one host.
 */
export const PART_CATALOG: PartSpec[] = [
  {
    name: "webhook",
    scope: "server",
    needsApi: false,
    enabled: (c) => c.iam.enable,
    enableKey: "iam.enable",
    summary: "IAM TokenReview webhook for kube-apiserver (+ embedded IAM without iam.endpoint)",
    module: "mod/iam/mod.ts",
    load: () => loadFactory("mod/iam/mod.ts", () => import("../iam/mod.ts"), "createWebhookPart"),
  },
  {
    name: "node",
    scope: "node",
    needsApi: false,
    enabled: (c) => c.prismnet.enable,
    enableKey: "prismnet.enable",
    summary: "PrismNET node daemon: the CNI backend the prismnet plugin talks to",
    module: "mod/prismnet/mod.ts",
    load: () =>
      loadFactory(
        "mod/prismnet/mod.ts",
        () => import("../prismnet/mod.ts"),
        "createNodeNetworkPart",
      ),
  },
  {
    name: "tenancy",
    scope: "server",
    needsApi: true,
    enabled: (c) => c.tenancy.enable,
    enableKey: "tenancy.enable",
    summary: "Project CRD and namespace-per-project controller",
    module: "mod/tenancy/mod.ts",
    load: () =>
      loadFactory("mod/tenancy/mod.ts", () => import("../tenancy/mod.ts"), "createTenancyPart"),
  },
  {
    name: "netpol",
    scope: "server",
    needsApi: true,
    enabled: (c) => c.prismnet.enable,
    enableKey: "prismnet.enable",
    summary: "NetworkPolicy controller (PrismNET ACLs)",
    module: "mod/netpol/mod.ts",
    load: () =>
      loadFactory("mod/netpol/mod.ts", () => import("../netpol/mod.ts"), "createNetpolPart"),
  },
  {
    name: "lb",
    scope: "server",
    needsApi: true,
    enabled: (c) => c.fiberlb.enable,
    enableKey: "fiberlb.enable",
    summary: "LoadBalancer Service controller (+ embedded FiberLB without fiberlb.endpoint)",
    module: "mod/fiberlb/mod.ts",
    load: () =>
      loadFactory("mod/fiberlb/mod.ts", () => import("../fiberlb/mod.ts"), "createFiberlbPart"),
  },
  {
    name: "dns",
    scope: "server",
    needsApi: true,
    enabled: (c) => c.flashdns.enable,
    enableKey: "flashdns.enable",
    summary: "FlashDNS record controller (+ embedded FlashDNS without flashdns.endpoint)",
    module: "mod/flashdns/mod.ts",
    load: () =>
      loadFactory("mod/flashdns/mod.ts", () => import("../flashdns/mod.ts"), "createFlashdnsPart"),
  },
  {
    name: "csi",
    scope: "server",
    needsApi: true,
    enabled: (c) => c.lightningstor.enable,
    enableKey: "lightningstor.enable",
    summary: "LightningStor CSI controller with provisioner/attacher/resizer built in",
    module: "csi/mod.ts",
    load: () =>
      loadFactory("csi/mod.ts", () => import("../../csi/mod.ts"), "createCsiControllerPart"),
  },
  {
    name: "csi-node",
    scope: "node",
    needsApi: false,
    enabled: (c) => c.lightningstor.enable,
    enableKey: "lightningstor.enable",
    summary: "LightningStor CSI node plugin, registered with kubelet",
    module: "csi/mod.ts",
    load: () => loadFactory("csi/mod.ts", () => import("../../csi/mod.ts"), "createCsiNodePart"),
  },
];

/** Why a `--parts` selection is invalid (exit code 2). */
export class PartSelectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PartSelectionError";
  }
}

export interface SelectionOptions {
  role: "server" | "agent";
  /** Server: leave out the node parts (no kubelet here). */
  disableAgent?: boolean;
  /** `--parts` names; undefined selects every enabled part of the role. */
  parts?: string[];
}

/** The parts this process runs, in catalog order. */
export function selectParts(
  config: Config,
  opts: SelectionOptions,
  catalog = PART_CATALOG,
): PartSpec[] {
  const inRole = catalog.filter((p) =>
    opts.role === "server" ? p.scope === "server" || !opts.disableAgent : p.scope === "node"
  );
  if (opts.parts === undefined) return inRole.filter((p) => p.enabled(config));
  const wanted = [
    ...new Set(opts.parts.flatMap((p) => p.split(",")).map((p) => p.trim()).filter(Boolean)),
  ];
  const known = inRole.map((p) => p.name);
  for (const name of wanted) {
    const spec = catalog.find((p) => p.name === name);
    if (!spec) {
      const guess = didYouMean(name, known);
      throw new PartSelectionError(
        `unknown part "${name}"${
          guess ? ` — did you mean "${guess}"?` : ""
        } (parts of k8shost ${opts.role}: ${known.join(", ")})`,
      );
    }
    if (!known.includes(name)) {
      const why = spec.scope === "server"
        ? "runs only in k8shost server"
        : "is a node part, off with --disable-agent";
      throw new PartSelectionError(`part "${name}" ${why} (parts here: ${known.join(", ")})`);
    }
    if (!spec.enabled(config)) {
      throw new PartSelectionError(
        `part "${name}" is turned off by ${spec.enableKey}: false in the config`,
      );
    }
  }
  return inRole.filter((p) => wanted.includes(p.name));
}
