/**
 * The records the cluster should have, as a pure function of Services, EndpointSlices and Pods:
 * every object's contribution (object_records.ts), merged where two name the same set. No I/O:
 * everything here is exhaustively unit-tested.
 */
import type { KubeObject } from "../kube/api.ts";
import { type ClusterObjects, slicesByService, tenantOf } from "./kube_objects.ts";
import { clusterRecords, podRecords, serviceRecords } from "./object_records.ts";
import type { DesiredContext } from "./record_builder.ts";
import { type RecordSet, setKey } from "./records.ts";

/**
 * Merges contributions: sets with the same key (two headless Services naming one IP, two pods
 * sharing an IP) become one set with every value; the contributor sorting first by its labels
 * lends its labels, so the result does not depend on input order.
 */
export function mergeRecordSets(contributions: Iterable<RecordSet>): RecordSet[] {
  const out = new Map<string, RecordSet>();
  for (const s of contributions) {
    const key = setKey(s);
    const have = out.get(key);
    if (!have) {
      out.set(key, { ...s, values: [...s.values] });
      continue;
    }
    have.values = [...new Set([...have.values, ...s.values])];
    have.ttl = Math.min(have.ttl, s.ttl);
    if (labelOrder(s.labels) < labelOrder(have.labels)) have.labels = s.labels;
  }
  return [...out.values()].map((s) => ({ ...s, values: s.values.sort() }))
    .sort((a, b) => setKey(a) < setKey(b) ? -1 : setKey(a) > setKey(b) ? 1 : 0);
}

function labelOrder(l: Record<string, string>): string {
  return `${l["k8s-kind"]}/${l["k8s-namespace"]}/${l["k8s-name"]}`;
}

/** The complete desired record set of a cluster. */
export function desiredRecords(objs: ClusterObjects, ctx: DesiredContext): RecordSet[] {
  const bySvc = slicesByService(objs.endpointSlices);
  const tenants = new Map((objs.namespaces ?? []).map((n) => [n.metadata.name, tenantOf(n)]));
  const tenant = (o: KubeObject) => tenants.get(o.metadata.namespace ?? "default");
  const all: RecordSet[] = [...clusterRecords(ctx)];
  for (const svc of objs.services) {
    const key = `${svc.metadata.namespace ?? "default"}/${svc.metadata.name}`;
    all.push(...serviceRecords(svc, bySvc.get(key) ?? [], ctx, tenant(svc)));
  }
  for (const pod of objs.pods) all.push(...podRecords(pod, ctx, tenant(pod)));
  return mergeRecordSets(all);
}
