/**
 * Shared helpers of the FiberLB tests: temp dirs, loopback "external IPs", the embedded FiberLB,
 * request fixtures, backends, and the Kubernetes objects a controller test creates.
 * Controller terms and what tests read back from Services are in fiberlb_cluster.ts.
 */
import assert from "node:assert/strict";
import {
  type CreateLoadBalancerRequest,
  FiberlbClient,
  type HealthCheck,
  type HealthCheckType,
  type LoadBalancer,
  type PoolMember,
  type PoolTemplate,
} from "../mod/fiberlb/client.ts";
import {
  type EmbeddedFiberlb,
  type EmbeddedOptions,
  startEmbeddedFiberlb,
} from "../mod/fiberlbd/mod.ts";
import {
  startThreadedFiberlb,
  type ThreadedFiberlb,
  type ThreadOptions,
} from "../mod/fiberlbd/threaded.ts";
import type { KubeObject } from "../mod/kube/api.ts";
import { type Config, configSpec } from "../mod/config/spec.ts";
import { type ConfigIssue, validate } from "../mod/config/schema.ts";

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

export interface Fixture<L extends ThreadedFiberlb = EmbeddedFiberlb> {
  dir: string;
  lb: L;
  client: FiberlbClient;
  close(): Promise<void>;
}

export function embedded(tag: string, opts: Partial<EmbeddedOptions> = {}): Promise<Fixture> {
  return fixture(tag, opts, startEmbeddedFiberlb);
}

/** As embedded(), in a thread of its own as the appliance runs it (no access to its insides). */
export function threaded(
  tag: string,
  opts: Partial<ThreadOptions> = {},
): Promise<Fixture<ThreadedFiberlb>> {
  return fixture(tag, opts, startThreadedFiberlb);
}

async function fixture<L extends ThreadedFiberlb, O extends ThreadOptions>(
  tag: string,
  opts: Partial<O>,
  start: (o: O) => Promise<L>,
): Promise<Fixture<L>> {
  const dir = opts.dataDir ?? await tempDir(tag);
  const lb = await start({ listenerRetryMs: 100, ...opts, dataDir: dir } as O);
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

// ---- request fixtures ----------------------------------------------------------------------
/** A CreateLoadBalancer request of no tenant, empty but for `o`. */
export function lbRequest(o: Partial<CreateLoadBalancerRequest> = {}): CreateLoadBalancerRequest {
  return {
    name: "lb",
    description: "",
    external_ip: "",
    org_id: "",
    project_id: "",
    ip_sharing_key: "",
    labels: {},
    ...o,
  };
}

export function healthCheck(
  type: HealthCheckType = "HEALTH_CHECK_TCP",
  o: Partial<HealthCheck> = {},
): HealthCheck {
  return { type, path: "", interval_ms: 1000, timeout_ms: 500, retries: 2, port: 0, ...o };
}

type MemberSpec = Omit<PoolMember, "weight"> & { weight?: number };

/** Round-robin pool `p` of `members` (weight 1 unless given), TCP-checked; `o` overrides. */
export function poolTemplate(members: MemberSpec[], o: Partial<PoolTemplate> = {}): PoolTemplate {
  return {
    name: "p",
    algorithm: "ROUND_ROBIN",
    session_affinity: "NONE",
    affinity_timeout_seconds: 0,
    health_check: healthCheck(),
    members: members.map((m) => ({ weight: 1, ...m })),
    ...o,
  };
}

/** Probes often enough that failover tests see a verdict within a second. */
export const FAST_TCP_CHECK = healthCheck("HEALTH_CHECK_TCP", {
  interval_ms: 150,
  timeout_ms: 100,
});

/**
 * A load balancer on `ip` serving `members` on `port`: pool `p` (FAST_TCP_CHECK unless `pool`
 * says otherwise) behind listener `l`, which must be active.
 */
export async function lbWithPool(
  client: FiberlbClient,
  ip: string,
  port: number,
  members: MemberSpec[],
  pool: Record<string, unknown> = {},
  protocol: "TCP" | "UDP" = "TCP",
): Promise<{ lb: LoadBalancer; poolId: string; listenerId: string }> {
  const lb = await client.createLoadBalancer(
    lbRequest({ name: `lb-${crypto.randomUUID().slice(0, 8)}`, external_ip: ip }),
  );
  const created = await client.createPool({
    load_balancer_id: lb.id,
    ...poolTemplate(members, { health_check: FAST_TCP_CHECK }),
    ...pool,
  });
  const listener = await client.createListener({
    load_balancer_id: lb.id,
    name: "l",
    protocol,
    port,
    default_pool_id: created.id,
  });
  assert.equal(listener.status, "LISTENER_ACTIVE", listener.status_message);
  return { lb, poolId: created.id, listenerId: listener.id };
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
