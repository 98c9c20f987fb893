/**
 * Kubernetes objects and logical switch ports → the translation's inputs. A pod's addresses
 * come from its logical switch port when it has one (written at CNI ADD, before the kubelet
 * reports status.podIPs), else from its status. Host-network and finished pods are left out:
 * they have no logical port, and a finished pod's IP may already belong to another pod.
 */
import type { KubeObject } from "../kube/api.ts";
import type { NamespaceInfo, PodInfo } from "./types.ts";

/** A pod's logical switch port as the NB holds it (external_ids name the pod). */
export interface LspInfo {
  name: string;
  namespace: string;
  pod: string;
  ips: string[];
}

export function podInfos(pods: KubeObject[], lsps: LspInfo[]): PodInfo[] {
  const byPod = new Map<string, LspInfo[]>();
  for (const l of lsps) {
    const k = `${l.namespace}/${l.pod}`;
    if (!byPod.has(k)) byPod.set(k, []);
    byPod.get(k)!.push(l);
  }
  const out: PodInfo[] = [];
  for (const p of pods) {
    if (p.spec?.hostNetwork) continue;
    const phase = p.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") continue;
    const namespace = p.metadata.namespace ?? "default";
    const name = p.metadata.name ?? "";
    const ports = byPod.get(`${namespace}/${name}`) ?? [];
    const statusIps = ((p.status?.podIPs as Array<{ ip: string }> | undefined)?.map((x) => x.ip) ??
      (p.status?.podIP ? [p.status.podIP as string] : [])).filter(Boolean);
    const lspIps = ports.flatMap((l) => l.ips);
    out.push({
      namespace,
      name,
      labels: p.metadata.labels ?? {},
      ips: [...new Set(lspIps.length ? lspIps : statusIps)].sort(),
      ports: ports.map((l) => l.name).sort(),
      containerPorts: ((p.spec?.containers ?? []) as Array<
        { ports?: Array<{ name?: string; containerPort: number; protocol?: string }> }
      >).flatMap((c) =>
        (c.ports ?? []).map((cp) => ({
          name: cp.name,
          port: cp.containerPort,
          protocol: cp.protocol ?? "TCP",
        }))
      ),
    });
  }
  return out;
}

export function namespaceInfos(namespaces: KubeObject[]): NamespaceInfo[] {
  return namespaces.map((n) => ({ name: n.metadata.name ?? "", labels: n.metadata.labels ?? {} }));
}

/** `"MAC IP [IP...]"` addresses of a logical switch port → its IPs. */
export function lspIps(addresses: string[]): string[] {
  return addresses.flatMap((a) => a.split(/\s+/).slice(1)).filter((x) => x && x !== "dynamic");
}
