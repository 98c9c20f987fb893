/**
 * Garbage collection of namespace switches, which the leader-elected controller is in a good
 * place to do: it knows every namespace. A switch PrismNET made (`k8shost.io/owner=prismnet`)
 * for a namespace that no longer exists and that holds no pod port anymore is removed with its
 * router port. A CNI ADD racing this (switch made, port not yet added) just finds the switch
 * missing and makes it again.
 */
import { asMap, asUuids, type Row } from "../ovsdb/mod.ts";

const OWNER_KEY = "k8shost.io/owner";
const NS_KEY = "k8shost.io/namespace";

/** Namespaces whose switch can go: owned by prismnet, namespace gone, no pod ports left. */
export function staleSwitches(
  switches: Map<string, Row>,
  ports: Map<string, Row>,
  namespaces: Set<string>,
): string[] {
  const out: string[] = [];
  for (const sw of switches.values()) {
    const ids = asMap(sw.external_ids);
    const ns = ids[NS_KEY];
    if (ids[OWNER_KEY] !== "prismnet" || !ns || namespaces.has(ns)) continue;
    const podPorts = asUuids(sw.ports).filter((id) => {
      const p = ports.get(id);
      return !p || p.type !== "router"; // unknown rows count as pods: keep the switch
    });
    if (podPorts.length === 0) out.push(ns);
  }
  return out.sort();
}
