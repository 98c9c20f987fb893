/**
 * The loopback health endpoint: `/healthz` (the process is alive and not failed), `/readyz`
 * (k3s plus every part; 503 naming what is not ready; `?verbose` lists each check as
 * kube-apiserver does) and `/metrics` (Prometheus text format 0.0.4).
 */
import type { Registry } from "../metrics/mod.ts";

export interface HealthCheck {
  name: string;
  /** true, or why not. */
  ready(): true | string;
}

export interface HealthServerOptions {
  /** `host:port` (`[v6]:port`); port 0 picks a free port. */
  listen: string;
  /** The readiness checks, read on every request (parts come and go). */
  checks: () => HealthCheck[];
  /** Liveness: true, or why the process should be restarted. */
  live?: () => true | string;
  metrics: Registry;
}

export interface HealthServer {
  hostname: string;
  port: number;
  url: string;
  close(): Promise<void>;
}

export function parseListen(listen: string): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(listen.trim());
  if (!m || Number(m[3]) > 65535) {
    throw new Error(`health.listen: "${listen}" is not host:port (e.g. 127.0.0.1:10258)`);
  }
  return { hostname: m[1] ?? m[2], port: Number(m[3]) };
}

/** kube-apiserver style: `[+]name ok` / `[-]name failed: reason`, then a verdict line. */
export function readinessReport(checks: HealthCheck[]): { ok: boolean; lines: string[] } {
  const lines: string[] = [];
  let ok = true;
  for (const c of checks) {
    let r: true | string;
    try {
      r = c.ready();
    } catch (e) {
      r = `check failed: ${(e as Error).message}`;
    }
    if (r === true) lines.push(`[+]${c.name} ok`);
    else {
      ok = false;
      lines.push(`[-]${c.name} failed: ${r}`);
    }
  }
  return { ok, lines };
}

const TEXT = { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" };

export function healthHandler(
  opts: Omit<HealthServerOptions, "listen">,
): (req: Request) => Response {
  const started = Date.now();
  const uptime = opts.metrics.gauge("k8shost_uptime_seconds", "Seconds since k8shost started.");
  uptime.collect({}, () => (Date.now() - started) / 1000);
  return (req) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed\n", {
        status: 405,
        headers: { ...TEXT, allow: "GET, HEAD" },
      });
    }
    const url = new URL(req.url);
    const verbose = url.searchParams.has("verbose");
    switch (url.pathname) {
      case "/healthz":
      case "/livez": {
        const live = opts.live?.() ?? true;
        return live === true
          ? new Response("ok\n", { headers: TEXT })
          : new Response(`not alive: ${live}\n`, { status: 503, headers: TEXT });
      }
      case "/readyz": {
        const { ok, lines } = readinessReport(opts.checks());
        if (ok && !verbose) return new Response("ok\n", { headers: TEXT });
        const body = verbose
          ? [...lines, `readyz check ${ok ? "passed" : "failed"}`]
          : [...lines.filter((l) => l.startsWith("[-]")), "readyz check failed"];
        return new Response(body.join("\n") + "\n", { status: ok ? 200 : 503, headers: TEXT });
      }
      case "/metrics":
        return new Response(opts.metrics.render(), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        });
      default:
        return new Response("not found: try /healthz, /readyz or /metrics\n", {
          status: 404,
          headers: TEXT,
        });
    }
  };
}

export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const { hostname, port } = parseListen(opts.listen);
  const ac = new AbortController();
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname,
    port,
    signal: ac.signal,
    onListen: (addr) => listening.resolve(addr as Deno.NetAddr),
    onError: (e) => new Response(`internal error: ${(e as Error).message}\n`, { status: 500 }),
  }, healthHandler(opts));
  const addr = await Promise.race([listening.promise, server.finished.then(() => undefined)]);
  if (!addr) throw new Error(`health endpoint could not listen on ${opts.listen}`);
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    hostname: addr.hostname,
    port: addr.port,
    url: `http://${host}:${addr.port}`,
    async close() {
      ac.abort();
      await server.finished;
    },
  };
}
