/** Shared helpers of the FiberLB tests: temp dirs, loopback "external IPs", backends. */
import { FiberlbClient } from "../mod/fiberlb/client.ts";
import {
  type EmbeddedFiberlb,
  type EmbeddedOptions,
  startEmbeddedFiberlb,
} from "../mod/fiberlbd/mod.ts";
import type { KubeObject } from "../mod/kube/api.ts";
import { RESOURCES } from "../mod/kube/mod.ts";
import { type Config, configSpec } from "../mod/config/spec.ts";
import { type ConfigIssue, validate } from "../mod/config/schema.ts";
import { type FiberlbController, runFiberlbController } from "../mod/fiberlb/controller.ts";
import { parsePools } from "../mod/fiberlb/pools.ts";
import { logger } from "../mod/log/mod.ts";
import { Registry } from "../mod/metrics/mod.ts";
import { startTestApiServer, type TestApiServer } from "./support/apiserver/mod.ts";
import { type ApiServerProcess, startApiServerProcess } from "./support/apiserver/process.ts";

export async function tempDir(tag: string): Promise<string> {
  return await Deno.makeTempDir({ prefix: `kh-fiberlb-${tag}-` });
}

/**
 * A /24 of 127.0.0.0/8 picked at random so parallel tests (ours and other components') do not
 * collide; every address in it is local without any interface configuration.
 */
export function loopbackNet(): { prefix: string; cidr: string; ip(n: number): string } {
  const a = 100 + Math.floor(Math.random() * 150);
  const b = Math.floor(Math.random() * 256);
  const prefix = `127.${a}.${b}`;
  return { prefix, cidr: `${prefix}.0/24`, ip: (n: number) => `${prefix}.${n}` };
}

export interface Fixture {
  dir: string;
  lb: EmbeddedFiberlb;
  client: FiberlbClient;
  close(): Promise<void>;
}

export async function embedded(tag: string, opts: Partial<EmbeddedOptions> = {}): Promise<Fixture> {
  const dir = opts.dataDir ?? await tempDir(tag);
  const lb = await startEmbeddedFiberlb({ listenerRetryMs: 100, ...opts, dataDir: dir });
  const client = new FiberlbClient({ endpoint: lb.target, timeoutMs: 5_000 });
  return {
    dir,
    lb,
    client,
    close: async () => {
      client.close();
      await lb.stop();
      // A directory the caller passed in is the caller's to remove (it may start again on it).
      if (opts.dataDir === undefined) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** A TCP server answering every connection with its name, then echoing. */
export function nameServer(name: string, hostname = "127.0.0.1", port = 0): {
  port: number;
  connections: () => number;
  close(): Promise<void>;
} {
  const listener = Deno.listen({ hostname, port });
  let count = 0;
  const conns = new Set<Deno.Conn>();
  const loop = (async () => {
    try {
      for await (const c of listener) {
        count++;
        conns.add(c);
        (async () => {
          try {
            await c.write(new TextEncoder().encode(`${name}\n`));
            const buf = new Uint8Array(4096);
            while (true) {
              const n = await c.read(buf);
              if (n === null) break;
              await c.write(buf.subarray(0, n));
            }
          } catch {
            /* reset */
          } finally {
            conns.delete(c);
            try {
              c.close();
            } catch { /* closed */ }
          }
        })();
      }
    } catch { /* closed */ }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    connections: () => count,
    close: async () => {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await loop;
    },
  };
}

/** Connects, reads the first line (the backend's name) and closes. */
export async function whoAnswers(hostname: string, port: number): Promise<string> {
  const c = await Deno.connect({ hostname, port });
  try {
    const buf = new Uint8Array(256);
    let text = "";
    while (!text.includes("\n")) {
      const n = await c.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return text.trim();
  } finally {
    c.close();
  }
}

export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  stepMs = 20,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

export function count<T>(items: T[]): Map<T, number> {
  const m = new Map<T, number>();
  for (const i of items) m.set(i, (m.get(i) ?? 0) + 1);
  return m;
}

// ---- controller fixtures -------------------------------------------------------------------
export function fiberlbConfig(
  overrides: Record<string, unknown>,
  dataDir = "/var/lib/k8shost",
): Config {
  const issues: ConfigIssue[] = [];
  const cfg = validate(configSpec, { dataDir, fiberlb: overrides }, "", issues) as Config;
  if (issues.length) throw new Error(`bad test config: ${JSON.stringify(issues)}`);
  return cfg;
}

export interface Cluster<S extends ApiServerLike = TestApiServer> {
  server: S;
  fiberlb: Fixture;
  config: Config;
  metrics: Registry;
  /** Starts a controller term; stop it by aborting the returned controller's signal. */
  startController(): { controller: FiberlbController; abort: AbortController };
  close(): Promise<void>;
}

type ApiServerLike = Pick<TestApiServer, "api" | "close">;

export async function cluster(
  tag: string,
  fiberlb: Record<string, unknown>,
  opts: Partial<EmbeddedOptions> = {},
): Promise<Cluster> {
  return assemble(await startTestApiServer(), tag, fiberlb, opts);
}

/** As cluster(), with the API server in a process of its own (benches). */
export async function clusterWithApiServerProcess(
  tag: string,
  fiberlb: Record<string, unknown>,
  opts: Partial<EmbeddedOptions> = {},
): Promise<Cluster<ApiServerProcess>> {
  return assemble(await startApiServerProcess({ tls: false }), tag, fiberlb, opts);
}

async function assemble<S extends ApiServerLike>(
  server: S,
  tag: string,
  fiberlb: Record<string, unknown>,
  opts: Partial<EmbeddedOptions>,
): Promise<Cluster<S>> {
  const f = await embedded(tag, { dataPlane: false, ...opts });
  const config = fiberlbConfig({ endpointDebounce: "50ms", resync: "1h", ...fiberlb }, f.dir);
  const { pools, errors } = parsePools(config.fiberlb);
  if (errors.length) throw new Error(errors.join("; "));
  const metrics = new Registry();
  const running: Array<{ controller: FiberlbController; abort: AbortController }> = [];
  return {
    server,
    fiberlb: f,
    config,
    metrics,
    startController() {
      const abort = new AbortController();
      const controller = runFiberlbController({
        api: server.api,
        client: f.client,
        config: config.fiberlb,
        pools,
        log: logger(`test.${tag}`),
        metrics,
        informerResyncMs: 3_600_000,
      }, abort.signal);
      running.push({ controller, abort });
      return { controller, abort };
    },
    async close() {
      for (const r of running) r.abort.abort();
      for (const r of running) await r.controller.stopped();
      await f.close();
      await server.close();
      await Deno.remove(f.dir, { recursive: true }).catch(() => {});
    },
  };
}

export function lbService(
  name: string,
  o: {
    namespace?: string;
    annotations?: Record<string, string>;
    ports?: Array<Record<string, unknown>>;
    spec?: Record<string, unknown>;
  } = {},
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: o.namespace ?? "default", annotations: o.annotations },
    spec: {
      type: "LoadBalancer",
      selector: { app: name },
      ports: o.ports ?? [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }],
      ...o.spec,
    },
  };
}

export function endpointSlice(
  service: string,
  addresses: Array<string | { ip: string; ready?: boolean; nodeName?: string }>,
  o: { namespace?: string; name?: string; port?: number; portName?: string } = {},
): KubeObject {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: o.name ?? `${service}-abc`,
      namespace: o.namespace ?? "default",
      labels: { "kubernetes.io/service-name": service },
    },
    addressType: "IPv4",
    ports: [{ name: o.portName ?? "http", port: o.port ?? 8080, protocol: "TCP" }],
    endpoints: addresses.map((a) => {
      const e = typeof a === "string" ? { ip: a } : a;
      return { addresses: [e.ip], conditions: { ready: e.ready ?? true }, nodeName: e.nodeName };
    }),
  };
}

export async function getService(
  server: TestApiServer,
  name: string,
  namespace = "default",
): Promise<KubeObject> {
  return await server.api.get<KubeObject>(RESOURCES.services, name, namespace);
}

export function ingressIp(svc: KubeObject | undefined): string | undefined {
  return svc?.status?.loadBalancer?.ingress?.[0]?.ip;
}

export function lbCondition(
  svc: KubeObject,
): { status: string; reason: string; message: string } | undefined {
  return (svc.status?.conditions ?? []).find((c: { type: string }) =>
    c.type === "fiberlb.plasmacloud.io/LoadBalancerReady"
  );
}

export async function waitForIngress(
  server: TestApiServer,
  name: string,
  namespace = "default",
): Promise<string> {
  return await waitFor(
    `ingress of ${namespace}/${name}`,
    async () => ingressIp(await getService(server, name, namespace)),
  );
}

export async function waitForCondition(
  server: TestApiServer,
  name: string,
  reason: string,
  namespace = "default",
): Promise<{ status: string; reason: string; message: string }> {
  return await waitFor(`condition ${reason} on ${namespace}/${name}`, async () => {
    const c = lbCondition(await getService(server, name, namespace));
    return c?.reason === reason ? c : undefined;
  });
}

/** Events recorded about a Service, as `reason: message`. */
export async function eventsOf(
  server: TestApiServer,
  name: string,
  namespace = "default",
): Promise<string[]> {
  const list = await server.api.list<KubeObject>(RESOURCES.events, { namespace });
  return list.items.filter((e) => e.involvedObject?.name === name).map((e) =>
    `${e.reason}: ${e.message}`
  );
}
