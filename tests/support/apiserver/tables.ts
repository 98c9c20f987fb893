/** Server-side printing (`Accept: ...;as=Table;g=meta.k8s.io`), which `kubectl get` asks for. */
import type { ResourceDef } from "./registry.ts";
import type { Obj } from "./store.ts";

interface Column {
  name: string;
  type: string;
  format?: string;
  description: string;
  priority: number;
  cell(o: Obj): unknown;
}

export function humanAge(ts: string | undefined): string {
  if (!ts) return "<unknown>";
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(ts)) / 1000));
  const m = Math.floor(s / 60), h = Math.floor(s / 3600), d = Math.floor(s / 86400);
  if (s < 120) return `${s}s`;
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ""}`;
  if (h < 3) return `${m}m`;
  if (h < 8) return `${h}h${m % 60 ? `${m % 60}m` : ""}`;
  if (h < 48) return `${h}h`;
  if (d < 8) return `${d}d${h % 24 ? `${h % 24}h` : ""}`;
  return `${d}d`;
}

const nameCol: Column = {
  name: "Name",
  type: "string",
  format: "name",
  description: "Name must be unique within a namespace.",
  priority: 0,
  cell: (o) => o.metadata.name,
};
const ageCol: Column = {
  name: "Age",
  type: "string",
  description:
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
  priority: 0,
  cell: (o) => humanAge(o.metadata.creationTimestamp),
};
const col = (name: string, cell: (o: Obj) => unknown, priority = 0): Column => ({
  name,
  type: "string",
  description: name,
  priority,
  cell,
});

function ports(o: Obj): string {
  const ps = o.spec?.ports ?? [];
  if (!ps.length) return "<none>";
  return ps.map((p: Obj["spec"]) =>
    `${p.port}${p.nodePort ? `:${p.nodePort}` : ""}/${p.protocol ?? "TCP"}`
  ).join(",");
}

const EXTRA: Record<string, Column[]> = {
  "/pods": [
    col("Ready", (o) => {
      const cs = o.status?.containerStatuses ?? [];
      return `${cs.filter((c: Obj["status"]) => c.ready).length}/${
        o.spec?.containers?.length ?? 0
      }`;
    }),
    col("Status", (o) => o.metadata.deletionTimestamp ? "Terminating" : o.status?.phase ?? ""),
    col("Restarts", (o) =>
      (o.status?.containerStatuses ?? []).reduce(
        (n: number, c: Obj["status"]) => n + (c.restartCount ?? 0),
        0,
      )),
  ],
  "/services": [
    col("Type", (o) => o.spec?.type ?? ""),
    col("Cluster-IP", (o) => o.spec?.clusterIP ?? "<none>"),
    col(
      "External-IP",
      (o) =>
        (o.status?.loadBalancer?.ingress ?? []).map((i: Obj["status"]) => i.ip ?? i.hostname)
          .join(",") || (o.spec?.type === "LoadBalancer" ? "<pending>" : "<none>"),
    ),
    col("Port(s)", ports),
  ],
  "/namespaces": [col("Status", (o) => o.status?.phase ?? "")],
  "/nodes": [
    col("Status", (o) => {
      const r = (o.status?.conditions ?? []).find((c: Obj["status"]) => c.type === "Ready");
      return r?.status === "True" ? "Ready" : "NotReady";
    }),
  ],
  "/configmaps": [col("Data", (o) => Object.keys(o.data ?? {}).length)],
  "/persistentvolumeclaims": [
    col("Status", (o) => o.status?.phase ?? ""),
    col("Volume", (o) => o.spec?.volumeName ?? ""),
  ],
  "/persistentvolumes": [
    col("Capacity", (o) => o.spec?.capacity?.storage ?? ""),
    col("Status", (o) => o.status?.phase ?? ""),
  ],
};

/** Values at a CRD printer-column JSONPath: `.a.b`, `[0]`, `[?(@.type=='Ready')]`. */
export function jsonPath(obj: unknown, path: string): unknown[] {
  const tokens = path.replace(/^\{|\}$/g, "").match(/\[[^\]]*\]|[^.[\]]+/g) ?? [];
  let cur: unknown[] = [obj];
  for (const t of tokens) {
    const next: unknown[] = [];
    for (const c of cur) {
      if (c === null || typeof c !== "object") continue;
      const filter = /^\[\?\(@\.([\w.]+)\s*==\s*['"]?([^'"]*)['"]?\)\]$/.exec(t);
      if (filter && Array.isArray(c)) {
        next.push(...c.filter((x) => String(jsonPath(x, `.${filter[1]}`)[0]) === filter[2]));
      } else if (/^\[\d+\]$/.test(t) && Array.isArray(c)) {
        const x = c[Number(t.slice(1, -1))];
        if (x !== undefined) next.push(x);
      } else if (t === "[*]" && Array.isArray(c)) next.push(...c);
      else if (!t.startsWith("[")) {
        const x = (c as Record<string, unknown>)[t];
        if (x !== undefined) next.push(x);
      }
    }
    cur = next;
  }
  return cur;
}

function printerColumn(c: NonNullable<ResourceDef["printerColumns"]>[number]): Column {
  return {
    name: c.name,
    type: c.type === "date" ? "string" : c.type,
    description: c.description ?? c.name,
    priority: c.priority ?? 0,
    cell(o) {
      const vs = jsonPath(o, c.jsonPath);
      if (!vs.length) return c.type === "string" || c.type === "date" ? "" : null;
      if (c.type === "date") return humanAge(String(vs[0]));
      if (c.type === "integer" || c.type === "number" || c.type === "boolean") return vs[0];
      return vs.map((v) => typeof v === "object" ? JSON.stringify(v) : String(v)).join(",");
    },
  };
}

function columnsFor(def: ResourceDef): Column[] {
  // A CRD that lists printer columns gets exactly those after Name, like kube-apiserver.
  if (def.custom && def.printerColumns?.length) {
    return [nameCol, ...def.printerColumns.map(printerColumn)];
  }
  return [nameCol, ...(EXTRA[def.storage] ?? []), ageCol];
}

function partial(o: Obj) {
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata };
}

/** A Table of the objects; `includeObject` as kubectl passes it (None, Metadata, Object). */
export function toTable(
  def: ResourceDef,
  items: Obj[],
  meta: { resourceVersion: string; continue?: string },
  includeObject = "Metadata",
  withColumns = true,
) {
  const cols = columnsFor(def);
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: meta,
    columnDefinitions: withColumns
      ? cols.map(({ cell: _c, ...c }) => ({ ...c, format: c.format ?? "" }))
      : null,
    rows: items.map((o) => ({
      cells: cols.map((c) => c.cell(o)),
      object: includeObject === "Object" ? o : includeObject === "None" ? undefined : partial(o),
    })),
  };
}
