/** HTTP routing of the Kubernetes REST paths onto the cluster, with faults and auth applied. */
import type { Cluster, DeleteOptions, PatchKind } from "./cluster.ts";
import { apiVersionOf } from "./cluster.ts";
import {
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersions,
  SERVER_VERSION,
} from "./discovery.ts";
import { ApiError, badRequest, methodNotAllowed, notFound } from "./errors.ts";
import type { FaultState } from "./faults.ts";
import type { ResourceDef } from "./registry.ts";
import type { Obj } from "./store.ts";
import { toTable } from "./tables.ts";
import { type WatchConn, watchResponse } from "./watch.ts";
import { openapiV3Group, openapiV3Index } from "./openapi.ts";

export interface RouterOptions {
  cluster: Cluster;
  faults: FaultState;
  openWatches: Set<WatchConn>;
  token?: string;
  bookmarkIntervalMs: number;
  serverAddress(): string;
  /** Called for every request (after auth), for tests that count calls. */
  onRequest?(method: string, path: string): void;
}

const PATCH_TYPES: Record<string, PatchKind> = {
  "application/merge-patch+json": "merge",
  "application/strategic-merge-patch+json": "strategic",
  "application/json-patch+json": "json",
};

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function errorResponse(e: ApiError): Response {
  return json(e.toStatus(), e.code);
}

interface Target {
  def: ResourceDef;
  namespace?: string;
  name?: string;
  sub?: string;
}

/** Resolves `/api/v1/...` or `/apis/g/v/...` to a resource; undefined for discovery paths. */
function resolve(cluster: Cluster, segs: string[]): Target | Response | undefined {
  let group = "", version: string, rest: string[];
  if (segs[0] === "api") {
    if (segs.length < 2) return undefined;
    version = segs[1];
    rest = segs.slice(2);
  } else {
    if (segs.length < 3) return undefined;
    group = segs[1];
    version = segs[2];
    rest = segs.slice(3);
  }
  if (!rest.length) return undefined;
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3 && !["status", "finalize"].includes(rest[2])) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const def = cluster.def(group, version, rest[0]);
  if (!def || rest.length > 3) {
    throw new ApiError(404, "NotFound", "the server could not find the requested resource");
  }
  if (namespace !== undefined && !def.namespaced) {
    throw new ApiError(404, "NotFound", "the server could not find the requested resource");
  }
  return { def, namespace, name: rest[1], sub: rest[2] };
}

async function readBody(req: Request): Promise<unknown> {
  const ctype = (req.headers.get("content-type") ?? "application/json").split(";")[0].trim();
  if (!ctype.endsWith("json")) {
    // Typed Go clients try protobuf first and fall back to JSON on 415, as with a CRD server.
    await req.body?.cancel();
    throw new ApiError(
      415,
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml`,
    );
  }
  const text = await req.text();
  if (!text) throw badRequest("the request body is empty");
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badRequest(`the request body is not valid JSON: ${(e as Error).message}`);
  }
}

function listBody(
  def: ResourceDef,
  page: { items: Obj[]; resourceVersion: string; continue?: string },
) {
  const metadata: Record<string, string> = { resourceVersion: page.resourceVersion };
  if (page.continue) metadata.continue = page.continue;
  const items = def.custom ? page.items : page.items.map(({ apiVersion: _a, kind: _k, ...o }) => o);
  return { kind: `${def.kind}List`, apiVersion: apiVersionOf(def), metadata, items };
}

/** `includeObject` when the client wants a Table, else undefined. */
function wantsTable(req: Request, q: URLSearchParams): string | undefined {
  const accept = req.headers.get("accept") ?? "";
  const first = accept.split(",")[0];
  if (!/as=Table/.test(first) || !/g=meta\.k8s\.io/.test(first)) return undefined;
  return q.get("includeObject") ?? "Metadata";
}

export function createRouter(
  o: RouterOptions,
): (req: Request, info?: Deno.ServeHandlerInfo) => Promise<Response> {
  const { cluster, faults } = o;

  async function route(req: Request, url: URL, completed?: Promise<void>): Promise<Response> {
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const segs = path.split("/").filter(Boolean).map(decodeURIComponent);
    const q = url.searchParams;
    const method = req.method;
    if (path === "/version") return json(SERVER_VERSION);
    if (["/healthz", "/readyz", "/livez"].includes(path)) return new Response("ok");
    if (path === "/api") return json(apiVersions(o.serverAddress()));
    if (path === "/apis") return json(apiGroupList(cluster.registry));
    if (path === "/openapi/v3") return json(openapiV3Index(cluster.registry));
    if (segs[0] === "openapi" && segs[1] === "v3") {
      const doc = openapiV3Group(cluster.registry, segs.slice(2).join("/"));
      if (doc) return json(doc);
      throw new ApiError(404, "NotFound", "the server could not find the requested resource");
    }
    if (segs[0] !== "api" && segs[0] !== "apis") {
      throw new ApiError(404, "NotFound", "the server could not find the requested resource");
    }
    if (segs[0] === "api" && segs.length === 2 || segs[0] === "apis" && segs.length === 3) {
      const list = segs[0] === "api"
        ? apiResourceList(cluster.registry, "", segs[1])
        : apiResourceList(cluster.registry, segs[1], segs[2]);
      if (list) return json(list);
      throw new ApiError(404, "NotFound", "the server could not find the requested resource");
    }
    if (segs[0] === "apis" && segs.length === 2) {
      const g = apiGroup(cluster.registry, segs[1]);
      if (g) return json(g);
      throw new ApiError(404, "NotFound", "the server could not find the requested resource");
    }
    const t = resolve(cluster, segs);
    if (!t || t instanceof Response) return t ?? json({}, 404);
    const { def, name, sub } = t;
    const ns = def.namespaced ? t.namespace : undefined;
    if (sub !== undefined && sub !== "status") {
      throw new ApiError(404, "NotFound", "the server could not find the requested resource");
    }
    const status = sub === "status" ? "status" as const : undefined;
    const table = wantsTable(req, q);
    const limit = q.has("limit") ? Number(q.get("limit")) : undefined;
    const listQuery = {
      labelSelector: q.get("labelSelector") ?? undefined,
      fieldSelector: q.get("fieldSelector") ?? undefined,
      limit: Number.isFinite(limit) ? limit : undefined,
      continue: q.get("continue") ?? undefined,
      resourceVersion: q.get("resourceVersion") ?? undefined,
      resourceVersionMatch: q.get("resourceVersionMatch") ?? undefined,
    };
    const dryRun = q.getAll("dryRun");
    if (dryRun.some((d) => d !== "All")) {
      throw badRequest(`dryRun: Unsupported value: "${dryRun.join(",")}": supported values: "All"`);
    }
    const mutate = <T>(fn: () => T): T => dryRun.length ? cluster.dryRun(fn) : fn();
    if (name === undefined) {
      if (def.namespaced && t.namespace === undefined && method !== "GET") throw methodNotAllowed();
      if (method === "GET") {
        if (q.get("watch") === "true" || q.get("watch") === "1") {
          return watchResponse({
            cluster,
            def,
            namespace: ns,
            resourceVersion: q.get("resourceVersion") ?? undefined,
            labelSelector: listQuery.labelSelector,
            fieldSelector: listQuery.fieldSelector,
            allowWatchBookmarks: q.get("allowWatchBookmarks") === "true",
            sendInitialEvents: q.get("sendInitialEvents") === "true",
            timeoutSeconds: q.has("timeoutSeconds") ? Number(q.get("timeoutSeconds")) : undefined,
            table,
            faults,
            open: o.openWatches,
            bookmarkIntervalMs: o.bookmarkIntervalMs,
            completed,
          });
        }
        const page = cluster.list(def, ns, listQuery);
        if (table !== undefined) {
          return json(toTable(def, page.items, {
            resourceVersion: page.resourceVersion,
            ...(page.continue ? { continue: page.continue } : {}),
          }, table));
        }
        return json(listBody(def, page));
      }
      if (method === "POST") {
        const body = await readBody(req);
        const created = mutate(() => cluster.create(def, ns, body));
        return json(created, 201);
      }
      if (method === "DELETE") {
        const items = mutate(() => cluster.deleteCollection(def, ns, listQuery));
        return json(listBody(def, { items, resourceVersion: String(cluster.store.rv) }));
      }
      throw methodNotAllowed();
    }
    switch (method) {
      case "GET": {
        const obj = cluster.get(def, ns, name);
        if (status) return json(obj);
        if (table !== undefined) {
          return json(
            toTable(def, [obj], { resourceVersion: obj.metadata.resourceVersion! }, table),
          );
        }
        return json(obj);
      }
      case "PUT": {
        const body = await readBody(req);
        return json(mutate(() => cluster.update(def, ns, name, body, status)));
      }
      case "PATCH": {
        const ctype = (req.headers.get("content-type") ?? "").split(";")[0].trim();
        const kind = PATCH_TYPES[ctype];
        if (!kind) {
          throw new ApiError(
            415,
            "UnsupportedMediaType",
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
          );
        }
        const body = await readBody(req);
        return json(mutate(() => cluster.patch(def, ns, name, kind, body, status)));
      }
      case "DELETE": {
        if (status) throw methodNotAllowed();
        const text = await req.text();
        let opts: DeleteOptions = {};
        if (text) {
          try {
            opts = JSON.parse(text);
          } catch {
            throw badRequest("the DeleteOptions body is not valid JSON");
          }
        }
        if (q.has("propagationPolicy")) opts.propagationPolicy = q.get("propagationPolicy")!;
        return json(mutate(() => cluster.delete(def, ns, name, opts)));
      }
    }
    throw methodNotAllowed();
  }

  return async (req: Request, info?: Deno.ServeHandlerInfo) => {
    const url = new URL(req.url);
    try {
      if (o.token !== undefined) {
        const auth = req.headers.get("authorization") ?? "";
        if (auth !== `Bearer ${o.token}`) {
          await req.body?.cancel();
          return errorResponse(new ApiError(401, "Unauthorized", "Unauthorized"));
        }
      }
      o.onRequest?.(req.method, url.pathname);
      if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults.latencyMs));
      const isWatch = url.searchParams.get("watch") === "true" ||
        url.searchParams.get("watch") === "1";
      const failStatus = faults.take(req.method, url.pathname, isWatch);
      if (failStatus !== undefined) {
        await req.body?.cancel();
        return errorResponse(
          new ApiError(
            failStatus,
            failStatus === 429
              ? "TooManyRequests"
              : failStatus >= 500
              ? "InternalError"
              : "BadRequest",
            `injected failure (HTTP ${failStatus})`,
          ),
        );
      }
      return await route(req, url, info?.completed);
    } catch (e) {
      if (e instanceof ApiError) return errorResponse(e);
      return errorResponse(
        new ApiError(500, "InternalError", `Internal error occurred: ${(e as Error)?.stack ?? e}`),
      );
    }
  };
}

export { notFound };
