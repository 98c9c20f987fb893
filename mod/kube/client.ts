/** KubeApi over fetch: TLS with the cluster CA, client certificates, bearer tokens. */
import type {
  KubeApi,
  KubeList,
  KubeObject,
  ListOptions,
  PatchType,
  ResourceRef,
  WatchEvent,
} from "./api.ts";
import { errorFromResponse, KubeRequestError } from "./errors.ts";
import { type ClusterAccess, loadInCluster, loadKubeconfigFile } from "./kubeconfig.ts";
import { apiVersionOf, resourcePath } from "./resources.ts";

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json",
  json: "application/json-patch+json",
};

/** A KubeApi with the extra members the machinery needs. */
export interface KubeClient extends KubeApi {
  readonly server: string;
  /** Raw request against the server (path + query), returning the parsed JSON body. */
  request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
  ): Promise<T>;
  close(): void;
}

export interface KubeClientOptions {
  /** Per-request timeout for non-watch calls (default 30 s). */
  timeoutMs?: number;
  userAgent?: string;
}

/** Loads a kubeconfig file and returns a client for its current context. */
export function createKubeApi(kubeconfigPath: string, opts: KubeClientOptions = {}): KubeClient {
  return createKubeClient(loadKubeconfigFile(kubeconfigPath), opts);
}

/** A client for the in-cluster service account. */
export function createInClusterKubeApi(opts: KubeClientOptions = {}): KubeClient {
  return createKubeClient(loadInCluster(), opts);
}

function query(opts: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(opts)) {
    if (v !== undefined && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

export function createKubeClient(access: ClusterAccess, opts: KubeClientOptions = {}): KubeClient {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const userAgent = opts.userAgent ?? "k8shost";
  const https = access.server.startsWith("https:");
  let client: Deno.HttpClient | undefined;
  if (https && (access.caPem || access.certPem)) {
    client = Deno.createHttpClient({
      ...(access.caPem ? { caCerts: [access.caPem] } : {}),
      ...(access.certPem && access.keyPem ? { cert: access.certPem, key: access.keyPem } : {}),
    });
  }
  let cachedToken: { value: string; readAt: number } | undefined;
  function token(): string | undefined {
    if (access.token) return access.token;
    if (!access.tokenFile) return undefined;
    const now = Date.now();
    if (!cachedToken || now - cachedToken.readAt > 60_000) {
      cachedToken = { value: Deno.readTextFileSync(access.tokenFile).trim(), readAt: now };
    }
    return cachedToken.value;
  }

  async function send(
    method: string,
    path: string,
    body: unknown,
    contentType: string,
    signal?: AbortSignal,
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json", "user-agent": userAgent };
    const t = token();
    if (t) headers.authorization = `Bearer ${t}`;
    if (body !== undefined) headers["content-type"] = contentType;
    try {
      return await fetch(`${access.server}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        client,
      });
    } catch (e) {
      if (signal?.aborted) throw e;
      throw new KubeRequestError(
        0,
        "ConnectionError",
        `${method} ${access.server}${path}: ${(e as Error).message}`,
      );
    }
  }

  async function request<T>(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<T> {
    const signal = AbortSignal.timeout(timeoutMs);
    let res = await send(method, path, body, contentType, signal);
    if (res.status === 401 && access.tokenFile) {
      // The projected token may have rotated since it was cached: re-read it and try once more.
      await res.body?.cancel();
      cachedToken = undefined;
      res = await send(method, path, body, contentType, signal);
    }
    const text = await res.text();
    if (!res.ok) throw errorFromResponse(res.status, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  function withKind<T extends KubeObject>(ref: ResourceRef, obj: T): T {
    return { ...obj, apiVersion: obj.apiVersion ?? apiVersionOf(ref), kind: obj.kind ?? ref.kind };
  }

  const api: KubeClient = {
    server: access.server,
    request,
    close() {
      client?.close();
    },
    get<T extends KubeObject>(ref: ResourceRef, name: string, namespace?: string) {
      return request<T>("GET", resourcePath(ref, namespace, name));
    },
    async tryGet<T extends KubeObject>(ref: ResourceRef, name: string, namespace?: string) {
      try {
        return await request<T>("GET", resourcePath(ref, namespace, name));
      } catch (e) {
        if (e instanceof KubeRequestError && e.status === 404) return undefined;
        throw e;
      }
    },
    list<T extends KubeObject>(ref: ResourceRef, o: ListOptions = {}) {
      const q = query({
        labelSelector: o.labelSelector,
        fieldSelector: o.fieldSelector,
        limit: o.limit,
        continue: o.continue,
        resourceVersion: o.resourceVersion,
      });
      return request<KubeList<T>>("GET", resourcePath(ref, o.namespace) + q);
    },
    create<T extends KubeObject>(ref: ResourceRef, obj: T) {
      const ns = ref.namespaced ? obj.metadata?.namespace ?? "default" : undefined;
      return request<T>("POST", resourcePath(ref, ns), withKind(ref, obj));
    },
    replace<T extends KubeObject>(ref: ResourceRef, obj: T) {
      const name = obj.metadata?.name;
      if (!name) throw new Error(`replace ${ref.kind}: metadata.name is required`);
      const ns = ref.namespaced ? obj.metadata.namespace ?? "default" : undefined;
      return request<T>("PUT", resourcePath(ref, ns, name), withKind(ref, obj));
    },
    patch<T extends KubeObject>(
      ref: ResourceRef,
      name: string,
      patch: unknown,
      o: { namespace?: string; type?: PatchType; subresource?: "status" } = {},
    ) {
      const path = resourcePath(ref, o.namespace, name, o.subresource);
      return request<T>("PATCH", path, patch, PATCH_CONTENT_TYPES[o.type ?? "merge"]);
    },
    async delete(ref: ResourceRef, name: string, namespace?: string) {
      await request("DELETE", resourcePath(ref, namespace, name));
    },
    watch<T extends KubeObject>(
      ref: ResourceRef,
      o: ListOptions & {
        resourceVersion: string;
        allowWatchBookmarks?: boolean;
        timeoutSeconds?: number;
      },
      signal: AbortSignal,
    ): AsyncIterable<WatchEvent<T>> {
      const path = resourcePath(ref, o.namespace) + query({
        watch: true,
        resourceVersion: o.resourceVersion,
        allowWatchBookmarks: o.allowWatchBookmarks,
        timeoutSeconds: o.timeoutSeconds,
        labelSelector: o.labelSelector,
        fieldSelector: o.fieldSelector,
      });
      return streamEvents<T>(() => send("GET", path, undefined, "", signal), signal);
    },
  };
  return api;
}

/** Reads newline-delimited watch events from a streaming response. */
async function* streamEvents<T extends KubeObject>(
  open: () => Promise<Response>,
  signal: AbortSignal,
): AsyncGenerator<WatchEvent<T>> {
  const res = await open();
  if (!res.ok) throw errorFromResponse(res.status, await res.text());
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  // Aborting the fetch does not wake a pending read of a streaming body; cancelling does.
  const onAbort = () => reader.cancel().catch(() => {});
  signal.addEventListener("abort", onAbort, { once: true });
  let buf = "";
  try {
    while (!signal.aborted) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let start = 0;
      let nl: number;
      while ((nl = buf.indexOf("\n", start)) >= 0) {
        const line = buf.slice(start, nl).trim();
        start = nl + 1;
        if (line) yield JSON.parse(line) as WatchEvent<T>;
      }
      buf = buf.slice(start);
    }
    const rest = buf.trim();
    if (rest && !signal.aborted) yield JSON.parse(rest) as WatchEvent<T>;
  } finally {
    signal.removeEventListener("abort", onAbort);
    await reader.cancel().catch(() => {});
  }
}
