/**
 * One NetworkPolicy rule → one allow-related ACL: peers (selectors as per-rule address sets,
 * ipBlocks as CIDR terms) and ports (numbers, ranges, named ports resolved per destination).
 * Pure, like desired.ts, which owns the walk over policies and the default-deny groups.
 */
import {
  addressSetMatch,
  and,
  canonicalCidr,
  cidrContains,
  ipBlockMatch,
  ipMatch,
  isProtocol,
  isV6,
  or,
  portMatch,
} from "./match.ts";
import { aclName, KEYS, owned, peerSetName } from "./names.ts";
import { matches, requirements } from "./selectors.ts";
import type { DesiredAcl, DesiredState, PodInfo, PolicyPeer, PolicyPort } from "./types.ts";

export const DEFAULT_DENY_PRIORITY = 1000;
export const ALLOW_PRIORITY = 1001;
export const NS_NAME_LABEL = "kubernetes.io/metadata.name";

export type Dir = "ingress" | "egress";

export interface Ctx {
  state: DesiredState;
  podsByNs: Map<string, PodInfo[]>;
  nsLabels: Map<string, Record<string, string>>;
  allPods: PodInfo[];
  isolated: Record<Dir, Map<string, Set<string>>>;
}

export interface Rule {
  ns: string;
  name: string;
  group: string;
  dir: Dir;
  index: number;
  peers?: PolicyPeer[];
  ports?: PolicyPort[];
  selected: PodInfo[];
  problem: (m: string) => void;
}

export function ruleAcl(ctx: Ctx, r: Rule): DesiredAcl | undefined {
  const side = r.dir === "ingress" ? "src" : "dst";
  const anyPeer = !r.peers || r.peers.length === 0;
  const l3: string[] = [];
  /** Pods the rule's peers cover (egress named ports resolve against them). */
  const peerPods = new Set<PodInfo>();
  const selectorPeers = (r.peers ?? []).filter((p) => p.podSelector || p.namespaceSelector);
  if (selectorPeers.length) {
    for (const peer of selectorPeers) {
      if (peer.ipBlock) {
        r.problem(`${r.dir}[${r.index}]: a peer cannot have both ipBlock and selectors`);
        continue;
      }
      try {
        for (const pod of peerSelect(ctx, r.ns, peer)) peerPods.add(pod);
      } catch (e) {
        r.problem(`${r.dir}[${r.index}]: ${(e as Error).message}`);
      }
    }
    const sets = [4, 6].map((family) => {
      const setName = peerSetName(r.ns, r.name, r.dir, r.index, family as 4 | 6);
      const addresses = [
        ...new Set([...peerPods].flatMap((p) => p.ips).filter((ip) => isV6(ip) === (family === 6))),
      ].sort();
      ctx.state.addressSets.set(setName, {
        name: setName,
        addresses,
        externalIds: owned("NetpolPeers", `${r.ns}:${r.name}`, {
          [KEYS.direction]: r.dir,
          [KEYS.rule]: String(r.index),
          [KEYS.family]: `ip${family}`,
        }),
      });
      return setName;
    });
    l3.push(addressSetMatch(side, sets[0], sets[1]));
  }
  const blocks: Array<{ cidr: string; except: string[] }> = [];
  for (const peer of r.peers ?? []) {
    if (!peer.ipBlock || peer.podSelector || peer.namespaceSelector) continue;
    const cidr = canonicalCidr(peer.ipBlock.cidr ?? "");
    const except = (peer.ipBlock.except ?? []).map((e) => canonicalCidr(e));
    if (!cidr || except.some((e) => !e)) {
      r.problem(`${r.dir}[${r.index}]: invalid ipBlock ${JSON.stringify(peer.ipBlock)}`);
      continue;
    }
    blocks.push({ cidr, except: except as string[] });
    l3.push(ipBlockMatch(side, cidr, except as string[]));
  }
  if (!anyPeer && l3.length === 0) return undefined; // every peer invalid: allows nothing

  let l4: string[] | undefined;
  if (r.ports && r.ports.length) {
    // Named ports name a container port of the destination: the selected pods for ingress,
    // the peer pods (or every pod the peers' CIDRs cover) for egress.
    let targets: PodInfo[] | undefined;
    const destinations = () =>
      targets ??= r.dir === "ingress" ? r.selected : anyPeer ? ctx.allPods : [
        ...peerPods,
        ...ctx.allPods.filter((p) =>
          !peerPods.has(p) && p.ips.some((ip) => blocks.some((b) => inBlock(ip, b)))
        ),
      ];
    l4 = [];
    for (const port of r.ports) {
      const terms = portTerms(port, destinations, r);
      if (terms) l4.push(...terms);
    }
    if (l4.length === 0) return undefined;
  }
  const own = r.dir === "ingress" ? `outport == @${r.group}` : `inport == @${r.group}`;
  const id = `NetworkPolicy:${r.ns}:${r.name}:${r.dir}:${r.index}`;
  return {
    id,
    direction: r.dir === "ingress" ? "to-lport" : "from-lport",
    priority: ALLOW_PRIORITY,
    match: and([own, ...(l3.length ? [or(l3)] : []), ...(l4 ? [or(l4)] : [])]),
    action: "allow-related",
    name: aclName(`NP:${r.ns}:${r.name}:${r.dir}:${r.index}`),
    options: r.dir === "egress" ? { "apply-after-lb": "true" } : {},
    externalIds: owned("NetworkPolicy", `${r.ns}:${r.name}`, {
      [KEYS.id]: id,
      [KEYS.direction]: r.dir,
      [KEYS.rule]: String(r.index),
    }),
  };
}

function peerSelect(ctx: Ctx, policyNs: string, peer: PolicyPeer): PodInfo[] {
  const podReqs = requirements(peer.podSelector);
  if (!peer.namespaceSelector) {
    return (ctx.podsByNs.get(policyNs) ?? []).filter((p) => matches(podReqs, p.labels));
  }
  const nsReqs = requirements(peer.namespaceSelector);
  const out: PodInfo[] = [];
  for (const [ns, pods] of ctx.podsByNs) {
    const labels = ctx.nsLabels.get(ns) ?? { [NS_NAME_LABEL]: ns };
    if (!matches(nsReqs, labels)) continue;
    for (const p of pods) if (matches(podReqs, p.labels)) out.push(p);
  }
  return out;
}

function portTerms(port: PolicyPort, targets: () => PodInfo[], r: Rule): string[] | undefined {
  const protocol = (port.protocol ?? "TCP").toUpperCase();
  if (!isProtocol(protocol)) {
    r.problem(`${r.dir}[${r.index}]: unsupported protocol ${port.protocol}`);
    return undefined;
  }
  if (port.port === undefined || typeof port.port === "number") {
    const n = port.port;
    if (n !== undefined && (!Number.isInteger(n) || n < 1 || n > 65535)) {
      r.problem(`${r.dir}[${r.index}]: invalid port ${n}`);
      return undefined;
    }
    if (
      port.endPort !== undefined && (n === undefined || port.endPort < n || port.endPort > 65535)
    ) {
      r.problem(`${r.dir}[${r.index}]: invalid endPort ${port.endPort} for port ${n}`);
      return undefined;
    }
    return [portMatch(protocol, n, port.endPort)];
  }
  const terms: string[] = [];
  for (const pod of targets()) {
    for (const cp of pod.containerPorts) {
      if (cp.name !== port.port || cp.protocol.toUpperCase() !== protocol) continue;
      for (const ip of pod.ips) terms.push(and([ipMatch("dst", ip), portMatch(protocol, cp.port)]));
    }
  }
  return [...new Set(terms)];
}

function inBlock(ip: string, b: { cidr: string; except: string[] }): boolean {
  return cidrContains(b.cidr, ip) && !b.except.some((e) => cidrContains(e, ip));
}
