/**
 * The exact `k3s server` / `k3s agent` command line for a config. Pure: the same config always
 * gives the same argv, so the table-driven tests pin every flag.
 *
 * Deviations from the specification's flag list, because real k3s would refuse or ignore it:
 * - flannel is not a packaged component: `--disable=flannel` does nothing (k3s's valid items are
 *   coredns, servicelb, traefik, local-storage, metrics-server, runtimes). Flannel is turned off
 *   by `--flannel-backend=none`, which is always passed; "flannel" is dropped from `--disable`.
 * - k3s has no `--authentication-token-webhook-*` flags of its own: they are kube-apiserver
 *   flags and go through `--kube-apiserver-arg=`.
 * - kube-apiserver writes no audit events without a policy, so `audit-policy-file` comes with
 *   the audit-log flags.
 */
import type { Config } from "../config/spec.ts";
import { formatDuration } from "../config/schema.ts";
import { clusterDnsIp, k3sLayout } from "./layout.ts";

export interface K3sArgsOptions {
  role: "server" | "agent";
  /** This node's name (config.nodeName or the host name), passed as `--node-name`. */
  nodeName: string;
  /** Server only: run no kubelet here (`k8shost server --disable-agent`). */
  disableAgent?: boolean;
}

export interface K3sCommand {
  argv: string[];
  /** Things the operator should know about how the config was mapped (logged at start). */
  notes: string[];
}

/** A config that cannot be turned into a k3s command line (cross-field checks normally catch it). */
export class K3sArgsError extends Error {
  constructor(readonly problems: string[]) {
    super(`cannot build the k3s command line: ${problems.join("; ")}`);
    this.name = "K3sArgsError";
  }
}

/** Packaged components k3s can disable (`k3s server --help`). */
export const DISABLEABLE = [
  "coredns",
  "servicelb",
  "traefik",
  "local-storage",
  "metrics-server",
  "runtimes",
];

/** `--disable` items: the config's list minus flannel, plus what the embedded parts replace. */
export function disabledComponents(config: Config): string[] {
  const out: string[] = [];
  const add = (c: string) => {
    if (DISABLEABLE.includes(c) && !out.includes(c)) out.push(c);
  };
  config.disableComponents.forEach(add);
  // Two LoadBalancer controllers would both hand out IPs to the same Services.
  if (config.fiberlb.enable) add("servicelb");
  // FlashDNS answers the cluster domain; CoreDNS would fight it for the cluster DNS IP.
  if (config.flashdns.enable) add("coredns");
  return out;
}

function identityArgs(config: Config, opts: K3sArgsOptions): string[] {
  const layout = k3sLayout(config, opts.role);
  const out = [`--data-dir=${layout.k3sDataDir}`, `--node-name=${opts.nodeName}`];
  if (opts.role === "server") {
    out.push(`--write-kubeconfig=${layout.kubeconfig}`, "--write-kubeconfig-mode=0600");
  }
  return out;
}

function clusterArgs(config: Config, role: "server" | "agent", problems: string[]): string[] {
  const out: string[] = [];
  if (role === "agent") {
    if (!config.serverUrl) problems.push("serverUrl is required for an agent");
    if (!config.tokenFile) problems.push("tokenFile is required for an agent");
    if (config.serverUrl) out.push(`--server=${config.serverUrl}`);
  } else if (config.datastore === "etcd") {
    if (config.clusterInit && config.serverUrl) {
      problems.push("clusterInit and serverUrl exclude each other");
    } else if (config.clusterInit) out.push("--cluster-init");
    else if (config.serverUrl) out.push(`--server=${config.serverUrl}`);
    else {problems.push(
        "datastore etcd needs clusterInit (first server) or serverUrl (joining server)",
      );}
  } else if (config.clusterInit || config.serverUrl) {
    problems.push("clusterInit/serverUrl need datastore etcd (sqlite is single-server)");
  }
  if (config.tokenFile) out.push(`--token-file=${config.tokenFile}`);
  return out;
}

function networkArgs(config: Config, opts: K3sArgsOptions): string[] {
  const n = config.networking;
  const out: string[] = [];
  const disabled = disabledComponents(config);
  if (disabled.length) out.push(`--disable=${disabled.join(",")}`);
  out.push("--flannel-backend=none", "--disable-network-policy");
  if (opts.disableAgent) out.push("--disable-agent");
  out.push(
    `--cluster-domain=${n.clusterDomain}`,
    `--service-cidr=${n.serviceCIDR}`,
    `--cluster-cidr=${n.clusterCIDR}`,
    `--service-node-port-range=${n.nodePortRange}`,
    `--cluster-dns=${clusterDnsIp(config)}`,
    `--bind-address=${n.bindAddress}`,
  );
  if (n.advertiseAddress) out.push(`--advertise-address=${n.advertiseAddress}`);
  return out;
}

function nodeArgs(config: Config, role: "server" | "agent"): string[] {
  const out: string[] = [];
  if (config.networking.nodeIP) out.push(`--node-ip=${config.networking.nodeIP}`);
  if (role === "server") out.push(...config.networking.tlsSans.map((s) => `--tls-san=${s}`));
  out.push(`--kubelet-arg=root-dir=${k3sLayout(config, role).kubeletDir}`);
  return out;
}

function apiserverArgs(config: Config): string[] {
  const layout = k3sLayout(config, "server");
  const api = (flag: string) => `--kube-apiserver-arg=${flag}`;
  const out: string[] = [];
  if (config.iam.enable) {
    out.push(
      api(`authentication-token-webhook-config-file=${layout.webhookConfigFile}`),
      api("authentication-token-webhook-version=v1"),
      api(`authentication-token-webhook-cache-ttl=${formatDuration(config.iam.webhook.cacheTTL)}`),
    );
  }
  const audit = config.auditLog;
  if (audit.enable) {
    out.push(
      api(`audit-policy-file=${layout.auditPolicyFile}`),
      api(`audit-log-path=${audit.path}`),
      api(`audit-log-maxage=${audit.maxAge}`),
      api(`audit-log-maxbackup=${audit.maxBackup}`),
      api(`audit-log-maxsize=${audit.maxSize}`),
    );
  }
  return out;
}

/** argv (without the executable) for `k3s server` or `k3s agent`; extraArgs come last. */
export function buildK3sArgs(config: Config, opts: K3sArgsOptions): K3sCommand {
  const problems: string[] = [];
  if (!opts.nodeName) problems.push("the node name is empty");
  const argv = [
    opts.role,
    ...identityArgs(config, opts),
    ...clusterArgs(config, opts.role, problems),
  ];
  if (opts.role === "server") {
    argv.push(
      ...networkArgs(config, opts),
      ...nodeArgs(config, "server"),
      ...apiserverArgs(config),
    );
  } else {
    argv.push(...nodeArgs(config, "agent"));
  }
  argv.push(...config.k3s.extraArgs);
  if (problems.length) throw new K3sArgsError(problems);

  const notes: string[] = [];
  if (opts.role === "server" && config.disableComponents.includes("flannel")) {
    notes.push(
      'disableComponents: "flannel" is not a k3s packaged component; flannel is off via --flannel-backend=none',
    );
  }
  return { argv, notes };
}
