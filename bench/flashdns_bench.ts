/**
 * FlashDNS benchmark (a script printing a table):
 *   deno run -A bench/flashdns_bench.ts [services=5000] [workers=32]
 *
 * 1. Convergence: the test API server, the real controller (informers, queue, diff + batches),
 *    and the embedded FlashDNS over real gRPC. Each of <services> headless Services gets an
 *    EndpointSlice with 3 ready endpoints; the latency is from the Service create call to the
 *    moment the name answers over UDP with all 3 addresses.
 * 2. Throughput: queries/s of the embedded DNS server, measured by a separate load process
 *    (bench/flashdns_load.ts) so load generation does not share the server's event loop.
 */
import dgram from "node:dgram";
import type { Buffer } from "node:buffer";
import dnsPacket from "dns-packet";
import { startTestApiServer } from "../tests/support/apiserver/mod.ts";
import { RESOURCES } from "../mod/kube/mod.ts";
import { configureLogging, logger } from "../mod/log/mod.ts";
import { runFlashdnsController } from "../mod/flashdns/controller.ts";
import { clusterFlashdns } from "../tests/flashdns_support.ts";

configureLogging({ level: "warn" });
const SERVICES = Number(Deno.args[0] ?? 5000);
const WORKERS = Number(Deno.args[1] ?? 32);
const NS = "default";

/** Polls a name over UDP until it has `want` A records; resolves with the time it did. */
class Prober {
  private sock = dgram.createSocket("udp4");
  private waiting = new Map<number, (count: number) => void>();
  private id = 0;
  constructor(private port: number) {
    this.sock.on("message", (buf: Buffer) => {
      const cb = this.waiting.get(buf.readUInt16BE(0));
      if (cb) {
        this.waiting.delete(buf.readUInt16BE(0));
        cb(buf.readUInt16BE(6));
      }
    });
  }
  bind() {
    return new Promise<void>((r) => this.sock.bind(0, "127.0.0.1", () => r()));
  }
  query(name: string): Promise<number> {
    const id = this.id = (this.id + 1) & 0xffff;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiting.delete(id);
        resolve(0);
      }, 500);
      this.waiting.set(id, (n) => {
        clearTimeout(t);
        resolve(n);
      });
      this.sock.send(
        dnsPacket.encode({ type: "query", id, flags: 0, questions: [{ type: "A", name }] }),
        this.port,
        "127.0.0.1",
      );
    });
  }
  async until(name: string, want: number): Promise<number> {
    while (await this.query(name) < want) await new Promise((r) => setTimeout(r, 5));
    return performance.now();
  }
  close() {
    this.sock.close();
  }
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const server = await startTestApiServer();
const dir = await Deno.makeTempDir({ prefix: "kh-flashdns-bench-" });
const { fd, client } = await clusterFlashdns(dir, { dns: true });
const abort = new AbortController();
const ctl = runFlashdnsController({
  api: server.api,
  client,
  desired: { domain: "cluster.local", ttl: 30, owner: "k8shost/bench" },
  resyncMs: 10 * 60_000,
  batchSize: 1000,
  flushDelayMs: 20,
  log: logger("flashdns-bench"),
}, abort.signal);
await ctl.synced();
const prober = new Prober(fd.dns!.port);
await prober.bind();

const latencies: number[] = [];
let next = 0;
const started = performance.now();
async function worker() {
  while (next < SERVICES) {
    const i = next++;
    const name = `svc-${i}`;
    const t0 = performance.now();
    await server.api.create(RESOURCES.services, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace: NS },
      spec: {
        clusterIP: "None",
        clusterIPs: ["None"],
        ports: [{ name: "http", port: 80, protocol: "TCP" }],
      },
    });
    await server.api.create(RESOURCES.endpointSlices, {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name: `${name}-x`,
        namespace: NS,
        labels: { "kubernetes.io/service-name": name },
      },
      addressType: "IPv4",
      endpoints: [0, 1, 2].map((k) => ({
        addresses: [`10.244.${Math.floor((i * 3 + k) / 250)}.${((i * 3 + k) % 250) + 1}`],
        hostname: `${name}-${k}`,
        conditions: { ready: true },
      })),
      ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    });
    const t1 = await prober.until(`${name}.${NS}.svc.cluster.local`, 3);
    latencies.push(t1 - t0);
  }
}
await Promise.all(Array.from({ length: WORKERS }, worker));
const wall = (performance.now() - started) / 1000;
await ctl.idle();
const sets = fd.store.size;

// Throughput from a separate process.
const names = Array.from(
  { length: 200 },
  (_, i) => `svc-${(i * 25) % SERVICES}.${NS}.svc.cluster.local`,
);
const load = await new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    new URL("./flashdns_load.ts", import.meta.url).pathname,
    String(fd.dns!.port),
    "5",
    "64",
    ...names,
  ],
  stdout: "piped",
  stderr: "inherit",
}).output();
const qps = JSON.parse(new TextDecoder().decode(load.stdout).trim().split("\n").pop()!);

prober.close();
abort.abort();
await ctl.stopped();
client.close();
await fd.stop();
await server.close();
await Deno.remove(dir, { recursive: true });

latencies.sort((a, b) => a - b);
const rows: [string, string][] = [
  ["services (headless, 3 endpoints each)", String(SERVICES)],
  ["concurrent creators", String(WORKERS)],
  ["record sets in FlashDNS", String(sets)],
  ["wall time for all services", `${wall.toFixed(1)} s`],
  ["create -> answer p50", `${pct(latencies, 50).toFixed(1)} ms`],
  ["create -> answer p90", `${pct(latencies, 90).toFixed(1)} ms`],
  ["create -> answer p99", `${pct(latencies, 99).toFixed(1)} ms`],
  ["create -> answer max", `${latencies[latencies.length - 1].toFixed(1)} ms`],
  ["DNS queries/s (UDP, 64 in flight, separate process)", String(qps.qps)],
  ["DNS load: answered / errors", `${qps.answered} / ${qps.errors}`],
];
const w = Math.max(...rows.map(([k]) => k.length));
console.log(`| ${"metric".padEnd(w)} | value |\n|${"-".repeat(w + 2)}|-------|`);
for (const [k, v] of rows) console.log(`| ${k.padEnd(w)} | ${v} |`);
const ok = pct(latencies, 99) < 1000;
console.log(`target p99 < 1 s: ${ok ? "met" : "NOT met"}`);
