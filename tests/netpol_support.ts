/**
 * A small pod world on real OVN for NetworkPolicy tests: namespace switches and pod ports
 * made through PrismNET's topology code, pods as Kubernetes objects, and `ovn-trace` verdicts
 * between them (`allow` when the packet reaches the destination's logical port).
 */
import type { KubeObject } from "../mod/kube/api.ts";
import { EXT, OvnTopology, podPortName, routerMac } from "../mod/ovn/mod.ts";
import { OvsdbSession } from "../mod/ovsdb/mod.ts";
import type { OvnHarness } from "./support/ovn.ts";

export interface WorldPod {
  namespace: string;
  name: string;
  ip: string;
  mac: string;
  lsp: string;
  gateway: string;
  labels: Record<string, string>;
  containerPorts?: Array<{ name: string; containerPort: number; protocol?: string }>;
}

export interface WorldSpec {
  /** namespace → [subnet third octet, labels] */
  namespaces: Record<string, [number, Record<string, string>]>;
  /** "ns/name" → [host octet, labels, named ports?] */
  pods: Record<string, [number, Record<string, string>, WorldPod["containerPorts"]?]>;
}

export class PodWorld {
  readonly pods = new Map<string, WorldPod>();
  readonly nbSession: OvsdbSession;
  readonly topology: OvnTopology;

  constructor(readonly ovn: OvnHarness, readonly base: string) {
    this.nbSession = new OvsdbSession(ovn.nb, "OVN_Northbound");
    this.topology = new OvnTopology(this.nbSession);
  }

  async build(spec: WorldSpec): Promise<void> {
    await this.topology.ensureClusterRouter();
    for (const [ns, [octet]] of Object.entries(spec.namespaces)) {
      await this.topology.ensureNamespaceSwitch({
        namespace: ns,
        subnets: [{ cidr: `${this.base}.${octet}.0/24`, gateway: `${this.base}.${octet}.1` }],
      });
    }
    for (const [key, [host, labels, containerPorts]] of Object.entries(spec.pods)) {
      const [namespace, name] = key.split("/");
      const octet = spec.namespaces[namespace][0];
      const ip = `${this.base}.${octet}.${host}`;
      const mac = `0a:58:${
        ip.split(".").map((o) => Number(o).toString(16).padStart(2, "0")).join(":")
      }`;
      const pod: WorldPod = {
        namespace,
        name,
        ip,
        mac,
        lsp: podPortName(name, `c${host}x${octet}`),
        gateway: `${this.base}.${octet}.1`,
        labels,
        containerPorts,
      };
      this.pods.set(key, pod);
      await this.topology.addPodPort({
        name: pod.lsp,
        namespace,
        mac,
        ips: [ip],
        externalIds: { [EXT.pod]: name },
      });
    }
    // ovn-trace reads the SB: without this the first trace can race northd to the new ports.
    await this.ovn.nbctl("--wait=sb", "sync");
  }

  pod(key: string): WorldPod {
    const p = this.pods.get(key);
    if (!p) throw new Error(`no pod ${key}`);
    return p;
  }

  /** The pods as the API would hold them. */
  objects(): KubeObject[] {
    return [...this.pods.values()].map((p) => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { namespace: p.namespace, name: p.name, labels: p.labels },
      spec: { containers: [{ name: "c", image: "pause", ports: p.containerPorts ?? [] }] },
      status: { phase: "Running", podIP: p.ip, podIPs: [{ ip: p.ip }] },
    }));
  }

  /** `allow` when a new connection from `from` reaches `to`'s logical port, else `drop`. */
  async verdict(from: string, to: string, l4: string): Promise<"allow" | "drop"> {
    const s = this.pod(from);
    const d = this.pod(to);
    const dstMac = s.namespace === d.namespace ? d.mac : routerMac(s.gateway);
    const flow = [
      `inport == "${s.lsp}"`,
      `eth.src == ${s.mac}`,
      `eth.dst == ${dstMac}`,
      `ip4.src == ${s.ip}`,
      `ip4.dst == ${d.ip}`,
      "ip.ttl == 64",
      l4,
    ].join(" && ");
    const out = await this.ovn.trace(`k8s-${s.namespace}`, flow);
    return out.includes(`output("${d.lsp}")`) ? "allow" : "drop";
  }

  close(): void {
    this.nbSession.close();
  }
}

export const tcp = (port: number) => `tcp && tcp.dst == ${port}`;
export const udp = (port: number) => `udp && udp.dst == ${port}`;
