/** Legacy discovery documents (/version, /api, /apis, group and group-version lists). */
import { type Registry, type ResourceDef, VERBS } from "./registry.ts";

export const SERVER_VERSION = {
  major: "1",
  minor: "32",
  gitVersion: "v1.32.0+k8shost-test",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2025-01-01T00:00:00Z",
  goVersion: "go1.23.0",
  compiler: "gc",
  platform: "linux/amd64",
};

export function apiVersions(serverAddress: string) {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

function group(name: string, versions: string[]) {
  const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: vs, preferredVersion: vs[0] };
}

export function apiGroupList(reg: Registry) {
  const groups = [...reg.groups()].filter(([g]) => g !== "").map(([g, vs]) => group(g, vs));
  return { kind: "APIGroupList", apiVersion: "v1", groups };
}

export function apiGroup(reg: Registry, name: string) {
  const vs = reg.groups().get(name);
  if (!vs || name === "") return undefined;
  return { kind: "APIGroup", apiVersion: "v1", ...group(name, vs) };
}

function resourceEntries(d: ResourceDef) {
  const main: Record<string, unknown> = {
    name: d.plural,
    singularName: d.singular,
    namespaced: d.namespaced,
    kind: d.kind,
    verbs: VERBS,
  };
  if (d.shortNames?.length) main.shortNames = d.shortNames;
  main.categories = d.categories ??
    (d.custom ? undefined : ["all"].filter(() => ["pods", "services"].includes(d.plural)));
  if (!(main.categories as string[] | undefined)?.length) delete main.categories;
  const out = [main];
  if (d.status) {
    out.push({
      name: `${d.plural}/status`,
      singularName: "",
      namespaced: d.namespaced,
      kind: d.kind,
      verbs: ["get", "patch", "update"],
    });
  }
  return out;
}

export function apiResourceList(reg: Registry, group: string, version: string) {
  const defs = reg.byGroupVersion(group, version);
  if (!defs.length) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group ? `${group}/${version}` : version,
    resources: defs.flatMap(resourceEntries),
  };
}
