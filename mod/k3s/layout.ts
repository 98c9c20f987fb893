/**
 * Where k3s and the files it reads live, derived from the config. Pure: no I/O, so the
 * supervisor, the parts (webhook, CNI) and `doctor` agree on every path.
 */
import type { Config } from "../config/spec.ts";
import { formatAddress, parseCidr } from "../config/net.ts";

export interface K3sLayout {
  /** k3s's own `--data-dir`: `<dataDir>/k3s`, so k3s state never mixes with ours. */
  k3sDataDir: string;
  /**
   * The kubeconfig whose appearance (plus /readyz) means "k3s is ready", and that the parts use:
   * the admin kubeconfig a server writes (`--write-kubeconfig`), or an agent's kubelet
   * kubeconfig (node credentials, limited by the Node authorizer).
   */
  kubeconfig: string;
  /**
   * Where containerd looks for CNI plugins and configs. k3s offers no flag for these: with
   * `--flannel-backend=none` (k3s >= 1.31) containerd's config points at the stable
   * `<k3s data-dir>/data/cni` and `<k3s data-dir>/agent/etc/cni/net.d`. `kubelet --cni-*-dir`
   * were removed with dockershim (Kubernetes 1.24), so `--kubelet-arg` cannot move them.
   */
  cniBinDir: string;
  cniConfDir: string;
  /** kubelet `--root-dir` (the CSI node plugin registers under `<root>/plugins_registry`). */
  kubeletDir: string;
  /** kube-apiserver audit policy written before k3s starts (no policy means no audit events). */
  auditPolicyFile: string;
  /** kubeconfig-format file telling kube-apiserver how to reach the IAM TokenReview webhook. */
  webhookConfigFile: string;
  /** The supervised k3s's process group, to stop one a killed k8shost left behind. */
  pidFile: string;
}

function trim(dir: string): string {
  return dir.length > 1 ? dir.replace(/\/+$/, "") : dir;
}

export function k3sLayout(
  config: Config,
  role: "server" | "agent" = config.mode as "server",
): K3sLayout {
  const dataDir = trim(config.dataDir);
  const k3sDataDir = `${dataDir}/k3s`;
  return {
    k3sDataDir,
    kubeconfig: role === "server"
      ? `${dataDir}/kubeconfig.yaml`
      : `${k3sDataDir}/agent/kubelet.kubeconfig`,
    cniBinDir: config.k3s.cniBinDir || `${k3sDataDir}/data/cni`,
    cniConfDir: config.k3s.cniConfDir || `${k3sDataDir}/agent/etc/cni/net.d`,
    kubeletDir: trim(config.k3s.kubeletDir),
    auditPolicyFile: `${dataDir}/audit-policy.yaml`,
    webhookConfigFile: `${dataDir}/iam/webhook-kubeconfig.yaml`,
    pidFile: `${dataDir}/k3s.pid`,
  };
}

/** `networking.clusterDNS`, or k3s's own default: the 10th address of the service CIDR. */
export function clusterDnsIp(config: Config): string {
  if (config.networking.clusterDNS) return config.networking.clusterDNS;
  const net = parseCidr(config.networking.serviceCIDR);
  if (!net) {
    throw new Error(`networking.serviceCIDR: "${config.networking.serviceCIDR}" is not a CIDR`);
  }
  return formatAddress(net.family, net.first + 10n);
}

/** The audit policy k8shost gives kube-apiserver: request metadata for everything. */
export const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
# Written by k8shost. Metadata (who, what, when; no bodies) keeps Secrets and tokens out of the log.
omitStages:
  - RequestReceived
rules:
  - level: None
    nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/version"]
  - level: Metadata
`;
