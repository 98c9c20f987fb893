/**
 * An in-process Kubernetes API server for tests, benchmarks and by-hand attach-mode runs. See
 * docs/kube.md for the semantics it pins.
 */
import type { KubeApi } from "../../../mod/kube/api.ts";
import { createKubeClient, type KubeClient } from "../../../mod/kube/client.ts";
import { renderKubeconfig } from "../../../mod/kube/kubeconfig.ts";
import { Cluster } from "./cluster.ts";
import { createFaults, type Faults, FaultState } from "./faults.ts";
import { createRouter } from "./router.ts";
import { generateServerTls } from "./tls.ts";
import type { WatchConn } from "./watch.ts";

export type { Faults } from "./faults.ts";
export { Cluster } from "./cluster.ts";

export interface TestApiServerOptions {
  /** Serve HTTPS with a CA generated at start (default false: plain HTTP). */
  tls?: boolean;
  /** Require this bearer token (default: no authentication). */
  token?: string;
  /** Port to bind on 127.0.0.1 (default 0: any free port). */
  port?: number;
  hostname?: string;
  /** Events kept for watch resumption (default 10,000); older versions answer 410 Gone. */
  historyLimit?: number;
  /** How often watches that allow bookmarks get one (default 1 s). */
  bookmarkIntervalMs?: number;
  /** Where to write the kubeconfig (default: a fresh temp dir). */
  kubeconfigPath?: string;
}

export interface TestApiServer {
  /** `http(s)://127.0.0.1:PORT` */
  url: string;
  /** A kubeconfig file (server, CA, token) for this server. */
  kubeconfigPath: string;
  /** A client already pointed at this server. */
  api: KubeApi & KubeClient;
  faults: Faults;
  /** The API state itself, for assertions that must bypass HTTP. */
  cluster: Cluster;
  /** PEM of the CA when serving TLS. */
  caPem?: string;
  /** Requests served so far, by `METHOD path` (paths without query). */
  requests: Map<string, number>;
  /** Watch streams open now. */
  openWatches(): number;
  close(): Promise<void>;
}

export async function startTestApiServer(opts: TestApiServerOptions = {}): Promise<TestApiServer> {
  const cluster = new Cluster({ historyLimit: opts.historyLimit });
  const state = new FaultState();
  const openWatches = new Set<WatchConn>();
  const requests = new Map<string, number>();
  const tls = opts.tls ? generateServerTls() : undefined;
  const hostname = opts.hostname ?? "127.0.0.1";
  let address = "";
  const handler = createRouter({
    cluster,
    faults: state,
    openWatches,
    token: opts.token,
    bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 1000,
    serverAddress: () => address,
    onRequest(method, path) {
      const k = `${method} ${path}`;
      requests.set(k, (requests.get(k) ?? 0) + 1);
    },
  });
  const ac = new AbortController();
  const server = Deno.serve({
    port: opts.port ?? 0,
    hostname,
    signal: ac.signal,
    onListen() {},
    ...(tls ? { cert: tls.certPem, key: tls.keyPem } : {}),
  }, handler);
  const port = (server.addr as Deno.NetAddr).port;
  address = `${hostname}:${port}`;
  const url = `${tls ? "https" : "http"}://${
    hostname.includes(":") ? `[${hostname}]` : hostname
  }:${port}`;
  let tmpDir: string | undefined;
  let kubeconfigPath = opts.kubeconfigPath;
  if (!kubeconfigPath) {
    tmpDir = await Deno.makeTempDir({ prefix: "kh-kube-apiserver-" });
    kubeconfigPath = `${tmpDir}/kubeconfig.yaml`;
  }
  await Deno.writeTextFile(
    kubeconfigPath,
    // Without a token kubectl would prompt for a username; the server ignores this one.
    renderKubeconfig({
      server: url,
      caPem: tls?.caPem,
      token: opts.token ?? "no-auth-required",
      name: "k8shost-test",
    }),
    { mode: 0o600 },
  );
  const api = createKubeClient({
    server: url,
    caPem: tls?.caPem,
    token: opts.token,
    source: "test apiserver",
  });
  const dropWatches = () => {
    for (const w of [...openWatches]) w.close();
  };
  const faults = createFaults(state, {
    dropWatches,
    stallWatches: () => openWatches.forEach((w) => w.stall()),
    compact: () => cluster.store.compact(),
  });
  let closed = false;
  return {
    url,
    kubeconfigPath,
    api,
    faults,
    cluster,
    caPem: tls?.caPem,
    requests,
    openWatches: () => openWatches.size,
    async close() {
      if (closed) return;
      closed = true;
      dropWatches();
      api.close();
      ac.abort();
      await server.finished;
      if (tmpDir) await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
    },
  };
}
