/**
 * NetworkPolicies, pods and namespaces → the OVN rows that enforce them, the ovn-kubernetes
 * way. Pure: no I/O, same input → same output (names, order, external_ids).
 *
 * - A namespace with a policy of a type gets a default-deny port group for that direction:
 *   every pod some policy isolates for it, a drop ACL at priority 1000 and an ARP/ND allow at
 *   1001 (neighbours must still resolve).
 * - Each policy gets a port group of the pods it selects and one allow-related ACL (priority
 *   1001) per rule: peers as address sets (selectors, one set per rule and IP family) and
 *   CIDRs (ipBlocks with except), ports as protocol/port/range terms; named ports resolve to
 *   `ip.dst == <pod ip> && port == <container port>` over the pods that carry the name.
 * Ingress ACLs are to-lport on `outport == @group`; egress ACLs from-lport on
 * `inport == @group`, applied after load balancing like ovn-kubernetes.
 */
import type { LabelRequirement } from "../kube/selectors.ts";
import { aclName, denyGroupName, KEYS, owned, policyGroupName } from "./names.ts";
import {
  ALLOW_PRIORITY,
  type Ctx,
  DEFAULT_DENY_PRIORITY,
  type Dir,
  NS_NAME_LABEL,
  ruleAcl,
} from "./rules.ts";
import { matches, requirements } from "./selectors.ts";
import type {
  DesiredAcl,
  DesiredState,
  NamespaceInfo,
  NetworkPolicy,
  PodInfo,
  PolicyPeer,
} from "./types.ts";

export { ALLOW_PRIORITY, DEFAULT_DENY_PRIORITY } from "./rules.ts";

export interface DesiredInput {
  policies: NetworkPolicy[];
  pods: PodInfo[];
  namespaces: NamespaceInfo[];
}

export function desiredState(input: DesiredInput): DesiredState {
  const state: DesiredState = { portGroups: new Map(), addressSets: new Map(), problems: [] };
  const ctx: Ctx = {
    state,
    podsByNs: new Map(),
    nsLabels: new Map(),
    allPods: [...input.pods].sort((a, b) => key(a).localeCompare(key(b))),
    isolated: { ingress: new Map(), egress: new Map() },
  };
  for (const p of ctx.allPods) {
    if (!ctx.podsByNs.has(p.namespace)) ctx.podsByNs.set(p.namespace, []);
    ctx.podsByNs.get(p.namespace)!.push(p);
  }
  for (const n of input.namespaces) {
    ctx.nsLabels.set(n.name, { ...n.labels, [NS_NAME_LABEL]: n.name });
  }
  const policies = [...input.policies].sort((a, b) => policyKey(a).localeCompare(policyKey(b)));
  for (const p of policies) translatePolicy(ctx, p);
  for (const dir of ["ingress", "egress"] as const) {
    for (const [ns, ports] of ctx.isolated[dir]) addDenyGroup(ctx, ns, dir, ports);
  }
  return state;
}

const key = (p: PodInfo) => `${p.namespace}/${p.name}`;
const policyKey = (p: NetworkPolicy) =>
  `${p.metadata.namespace ?? "default"}/${p.metadata.name ?? ""}`;

/** Policy types as the API defaults them: Ingress always, Egress when egress rules exist. */
export function policyTypes(p: NetworkPolicy): Set<Dir> {
  const t = p.spec.policyTypes;
  if (t && t.length) {
    return new Set(
      t.map((x) => x.toLowerCase()).filter((x): x is Dir => x === "ingress" || x === "egress"),
    );
  }
  return new Set<Dir>(p.spec.egress ? ["ingress", "egress"] : ["ingress"]);
}

function translatePolicy(ctx: Ctx, p: NetworkPolicy): void {
  const ns = p.metadata.namespace ?? "default";
  const name = p.metadata.name ?? "";
  const problem = (message: string) =>
    ctx.state.problems.push({ policy: `${ns}/${name}`, message });
  let podReqs: LabelRequirement[];
  try {
    podReqs = requirements(p.spec?.podSelector);
  } catch (e) {
    problem(`podSelector: ${(e as Error).message}`);
    return;
  }
  const selected = (ctx.podsByNs.get(ns) ?? []).filter((pod) => matches(podReqs, pod.labels));
  const group = policyGroupName(ns, name);
  const acls: DesiredAcl[] = [];
  const types = policyTypes(p);
  for (const dir of ["ingress", "egress"] as const) {
    if (!types.has(dir)) continue;
    let isolated = ctx.isolated[dir].get(ns);
    if (!isolated) ctx.isolated[dir].set(ns, isolated = new Set());
    for (const pod of selected) for (const lsp of pod.ports) isolated.add(lsp);
    const rules = (dir === "ingress" ? p.spec.ingress : p.spec.egress) ?? [];
    rules.forEach((r, i) => {
      const peers = dir === "ingress"
        ? (r as { from?: PolicyPeer[] }).from
        : (r as { to?: PolicyPeer[] }).to;
      const acl = ruleAcl(ctx, {
        ns,
        name,
        group,
        dir,
        index: i,
        peers,
        ports: r.ports,
        selected,
        problem,
      });
      if (acl) acls.push(acl);
    });
  }
  ctx.state.portGroups.set(group, {
    name: group,
    ports: selected.flatMap((pod) => pod.ports).sort(),
    acls,
    externalIds: owned("NetworkPolicy", `${ns}:${name}`),
  });
}

function addDenyGroup(ctx: Ctx, ns: string, dir: Dir, ports: Set<string>): void {
  const group = denyGroupName(ns, dir);
  const to = dir === "ingress";
  const own = to ? `outport == @${group}` : `inport == @${group}`;
  const Dir = to ? "Ingress" : "Egress";
  const acl = (
    type: string,
    priority: number,
    match: string,
    action: DesiredAcl["action"],
  ): DesiredAcl => {
    const id = `NetpolNamespace:${ns}:${Dir}:${type}`;
    return {
      id,
      direction: to ? "to-lport" : "from-lport",
      priority,
      match,
      action,
      name: aclName(`NP:${ns}:${Dir}`),
      options: to ? {} : { "apply-after-lb": "true" },
      externalIds: owned("NetpolNamespace", ns, { [KEYS.id]: id, [KEYS.direction]: dir }),
    };
  };
  ctx.state.portGroups.set(group, {
    name: group,
    ports: [...ports].sort(),
    acls: [
      acl("defaultDeny", DEFAULT_DENY_PRIORITY, own, "drop"),
      acl("arpAllow", ALLOW_PRIORITY, `${own} && (arp || nd)`, "allow"),
    ],
    externalIds: owned("NetpolNamespace", ns, { [KEYS.direction]: dir }),
  });
}
