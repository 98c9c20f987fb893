/**
 * FiberLB numbers, printed as a table:
 *
 * 1. 1,000 LoadBalancer Services, time from `create` to `status.loadBalancer.ingress` (seen on a
 *    watch), p50/p90/p99/max — paced (the given rate) and as one burst. The whole product path
 *    runs: the test API server (its own process, over HTTPS), the controller with its informers
 *    and queue, the embedded FiberLB over real gRPC with its data plane binding one listener
 *    per Service on a loopback IP.
 *    The burst is also run with a stand-in controller that makes only the controller's API
 *    writes (finalizer and annotations, an Event, the status) and nothing else: the floor the
 *    API server and its clients set on this machine, whatever the controller does.
 * 2. TCP throughput through the proxy as a ratio to a direct connection (1 and 4 streams).
 *
 *   deno run -A bench/fiberlb_load.ts [services=1000] [paced rates per second=50,100]
 *   (services 0: the throughput part only; --no-throughput: the latency part only)
 */
import { ANNOTATIONS, FINALIZER } from "../mod/fiberlb/annotations.ts";
import {
  claimWithAnnotations,
  createEventRecorder,
  createWorkQueue,
  patchStatus,
  RESOURCES,
} from "../mod/kube/mod.ts";
import type { KubeApi, KubeObject } from "../mod/kube/api.ts";
import { configureLogging } from "../mod/log/mod.ts";
import { clusterWithApiServerProcess } from "../tests/fiberlb_cluster.ts";
import { lbService } from "../tests/fiberlb_support.ts";

configureLogging({ level: "error" });
const COUNT = Number(Deno.args[0] ?? 1000);
const RATES = (Deno.args[1] ?? "50,100").split(",").map(Number).filter((r) => r > 0);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

type Mode = "paced" | "burst" | "floor";

/**
 * The API traffic of the controller and nothing else: a watch on Services and, 8 at a time (the
 * controller's default workers), one claim, one Event and one status write per new Service.
 */
async function apiOnlyController(api: KubeApi, signal: AbortSignal): Promise<void> {
  const events = createEventRecorder(api, "fiberlb-controller");
  const queue = createWorkQueue({ name: "floor", concurrency: 8 });
  const seen = new Map<string, KubeObject>();
  let n = 0;
  queue.run(async (name) => {
    const ip = `198.18.${n >> 8 & 255}.${n++ & 255}`;
    const svc = await claimWithAnnotations(api, RESOURCES.services, seen.get(name)!, FINALIZER, {
      [ANNOTATIONS.allocatedIp]: ip,
      [ANNOTATIONS.loadBalancerId]: `lb-${name}`,
    });
    void events.event({ ...svc, apiVersion: "v1", kind: "Service" }, "Normal", "IPAllocated", ip);
    await patchStatus(api, RESOURCES.services, svc, { loadBalancer: { ingress: [{ ip }] } });
  });
  const { resourceVersion } = (await api.list(RESOURCES.services)).metadata;
  (async () => {
    for await (const ev of api.watch<KubeObject>(RESOURCES.services, { resourceVersion }, signal)) {
      if (ev.type !== "ADDED") continue;
      seen.set(ev.object.metadata.name!, ev.object);
      queue.add(ev.object.metadata.name!);
    }
  })().catch(() => {}).finally(() => queue.shutdown());
}

async function serviceLatency(mode: Mode, rate = 0): Promise<number[]> {
  const third = 100 + Math.floor(Math.random() * 100);
  // A /21 of loopback addresses: every external IP is local, 2046 of them.
  // The API server runs in its own process, as kube-apiserver does: this process is the
  // appliance (controller + embedded FiberLB + data plane) plus the bench's client.
  const c = await clusterWithApiServerProcess(`bench-${mode}`, {
    externalIpPool: `127.${third}.0.0/21`,
  }, { dataPlane: true });
  try {
    const ac = new AbortController();
    if (mode === "floor") await apiOnlyController(c.server.api, ac.signal);
    else await c.startController().controller.synced();
    const created = new Map<string, number>();
    const done = new Map<string, number>();
    const all = Promise.withResolvers<void>();
    const list = await c.server.api.list(RESOURCES.services, { namespace: "default" });
    const watching = (async () => {
      for await (
        const ev of c.server.api.watch<KubeObject>(RESOURCES.services, {
          namespace: "default",
          resourceVersion: list.metadata.resourceVersion,
        }, ac.signal)
      ) {
        const name = ev.object.metadata.name!;
        if (!done.has(name) && ev.object.status?.loadBalancer?.ingress?.[0]?.ip) {
          done.set(name, performance.now());
          if (done.size === COUNT) all.resolve();
        }
      }
    })().catch(() => {});
    const names = Array.from({ length: COUNT }, (_, i) => `s-${i}`);
    const create = async (n: string) => {
      created.set(n, performance.now());
      await c.server.api.create(RESOURCES.services, lbService(n));
    };
    const t0 = performance.now();
    if (mode === "paced") {
      for (let i = 0; i < names.length; i++) {
        const due = t0 + (i * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        void create(names[i]);
      }
    } else {
      await Promise.all(names.map(create));
    }
    const timeout = setTimeout(
      () => all.reject(new Error(`only ${done.size}/${COUNT} got an address`)),
      120_000,
    );
    await all.promise;
    clearTimeout(timeout);
    const wall = performance.now() - t0;
    ac.abort();
    await watching;
    const lbs = await c.fiberlb.client.listAll();
    if (mode !== "floor" && new Set(lbs.map((l) => l.external_ip)).size !== COUNT) {
      throw new Error("addresses are not unique");
    }
    console.error(
      `${mode}${rate ? ` ${rate}/s` : ""}: ${COUNT} services in ${(wall / 1000).toFixed(2)} s`,
    );
    return names.map((n) => done.get(n)! - created.get(n)!).sort((a, b) => a - b);
  } finally {
    await c.close();
  }
}

// ---- throughput ---------------------------------------------------------------------------------

const TOTAL = 256 * 1024 * 1024;

function sink(): { port: number; close(): void } {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of l) {
      (async () => {
        const buf = new Uint8Array(256 * 1024);
        let n = 0;
        try {
          while (true) {
            const r = await conn.read(buf);
            if (r === null) break;
            n += r;
          }
          await conn.write(new TextEncoder().encode(`${n}\n`));
        } finally {
          conn.close();
        }
      })().catch(() => {});
    }
  })().catch(() => {});
  return { port: (l.addr as Deno.NetAddr).port, close: () => l.close() };
}

async function push(hostname: string, port: number, bytes: number): Promise<void> {
  const conn = await Deno.connect({ hostname, port });
  const chunk = new Uint8Array(64 * 1024);
  let sent = 0;
  while (sent < bytes) {
    sent += await conn.write(chunk.subarray(0, Math.min(chunk.length, bytes - sent)));
  }
  await conn.closeWrite();
  const reply = new Uint8Array(32);
  const n = await conn.read(reply);
  conn.close();
  if (Number(new TextDecoder().decode(reply.subarray(0, n ?? 0)).trim()) !== bytes) {
    throw new Error("short transfer");
  }
}

/** MB/s for `streams` parallel connections moving TOTAL bytes together; median of 3 runs. */
async function rate(hostname: string, port: number, streams: number): Promise<number> {
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await Promise.all(Array.from({ length: streams }, () => push(hostname, port, TOTAL / streams)));
    runs.push(TOTAL / 1e6 / ((performance.now() - t0) / 1000));
  }
  return runs.sort((a, b) => a - b)[1];
}

async function throughput(): Promise<Array<[string, number, number]>> {
  const { embedded, healthCheck, lbRequest, loopbackNet, poolTemplate } = await import(
    "../tests/fiberlb_support.ts"
  );
  const f = await embedded("bench-tp");
  const s = sink();
  const vip = loopbackNet().ip(1);
  try {
    // One call: the load balancer with its pool and listener.
    await f.client.createLoadBalancer(lbRequest({
      name: "tp",
      external_ip: vip,
      pools: [
        poolTemplate([{ address: "127.0.0.1", port: s.port }], {
          health_check: healthCheck("HEALTH_CHECK_NONE"),
        }),
      ],
      listeners: [{ name: "l", protocol: "TCP", port: 9999, default_pool_name: "p" }],
    }));
    const out: Array<[string, number, number]> = [];
    for (const streams of [1, 4]) {
      const direct = await rate("127.0.0.1", s.port, streams);
      const proxied = await rate(vip, 9999, streams);
      out.push([`${streams} stream${streams > 1 ? "s" : ""}`, direct, proxied]);
    }
    return out;
  } finally {
    s.close();
    await f.close();
    await Deno.remove(f.dir, { recursive: true }).catch(() => {});
  }
}

const rows: string[] = [];
const runs: Array<[Mode, number]> = COUNT === 0 ? [] : [
  ...RATES.map((r) => ["paced", r] as [Mode, number]),
  ["burst", 0],
  ["floor", 0],
];
for (const [mode, r] of runs) {
  const l = await serviceLatency(mode, r);
  const f = (v: number) => `${v.toFixed(0)} ms`.padStart(8);
  const name = `${COUNT} Services, ${
    mode === "paced" ? `${r}/s` : mode === "burst" ? "burst" : "burst, API only"
  }`;
  rows.push(
    `| ${name.padEnd(26)} |${f(pct(l, 50))} |${f(pct(l, 90))} |${f(pct(l, 99))} |${
      f(l[l.length - 1])
    } |`,
  );
}
if (rows.length) {
  console.log("\ncreate → status.loadBalancer.ingress");
  console.log("| run                        |     p50 |     p90 |     p99 |     max |");
  console.log("|----------------------------|---------|---------|---------|---------|");
  for (const r of rows) console.log(r);
}

if (Deno.args.includes("--no-throughput")) Deno.exit(0);
console.log(`\nTCP throughput, ${TOTAL / 1024 / 1024} MiB per run (median of 3)`);
console.log("| streams   |  direct MB/s | via proxy MB/s | ratio |");
console.log("|-----------|--------------|----------------|-------|");
for (const [name, direct, proxied] of await throughput()) {
  console.log(
    `| ${name.padEnd(9)} | ${direct.toFixed(0).padStart(12)} | ${
      proxied.toFixed(0).padStart(14)
    } | ${(proxied / direct).toFixed(2).padStart(5)} |`,
  );
}
Deno.exit(0);
