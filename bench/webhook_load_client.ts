/**
 * Load generator of bench/webhook_load.ts (its own process, so the server keeps its core):
 * sends kube-apiserver-shaped TokenReviews over HTTPS keep-alive with the apiserver's client
 * certificate, one write per request with TCP_NODELAY as Go's client does (http1_conn.ts), `concurrency` requests in flight, and prints one JSON line of results.
 * With a rate (requests/s) it is open loop instead: requests start on schedule (still at most
 * `concurrency` in flight, on as many kept-alive connections) and latency counts from the
 * scheduled start, so a stalled server or a full pipe is not hidden.
 *
 * args: url kubeconfigDir tokensFile concurrency requests warmup [rate]
 */
import { lagMonitor } from "./event_loop_lag.ts";
import { Http1Conn } from "./http1_conn.ts";
const [url, dir, tokensFile, concArg, totalArg, warmArg, rateArg] = Deno.args;
const rate = Number(rateArg ?? 0);
const tokens = (await Deno.readTextFile(tokensFile)).split("\n").filter(Boolean);
const concurrency = Number(concArg);
const total = Number(totalArg);
const warmup = Number(warmArg);
const tls = {
  caCerts: [await Deno.readTextFile(`${dir}/ca.crt`)],
  cert: await Deno.readTextFile(`${dir}/apiserver-client.crt`),
  key: await Deno.readTextFile(`${dir}/apiserver-client.key`),
};
const target = new URL(url);
/** Kept-alive connections, one per request in flight. */
const idle: Http1Conn[] = await Promise.all(
  Array.from({ length: concurrency }, () => Http1Conn.open(target, tls)),
);
const headers = {
  "content-type": "application/json",
  accept: "application/json, */*",
  "user-agent": "kube-apiserver/v1.31.4+k3s1 (linux/amd64) kubernetes/a6d5bd2",
};
const bodies = tokens.map((token) =>
  JSON.stringify({
    kind: "TokenReview",
    apiVersion: "authentication.k8s.io/v1",
    metadata: { creationTimestamp: null },
    spec: { token, audiences: ["https://kubernetes.default.svc.cluster.local", "k3s"] },
    status: { user: {} },
  })
);

let next = 0;
let failures = 0;
const latencies: number[] = [];

async function one(i: number, record: boolean, scheduled?: number) {
  const t0 = scheduled ?? performance.now();
  const conn = idle.pop()!;
  try {
    const res = await conn.post(target.pathname, headers, bodies[i % bodies.length]);
    if (res.status !== 200 || JSON.parse(res.body).status?.authenticated !== true) failures++;
  } finally {
    idle.push(conn);
  }
  if (record) latencies.push(performance.now() - t0);
}

async function run(count: number, record: boolean) {
  next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) await one(record ? warmup + next++ : next++, record);
  }));
}

/** Open loop: request k starts at started + k/rate. */
async function runAtRate(count: number) {
  const started = performance.now();
  const inflight = new Set<Promise<void>>();
  for (let k = 0; k < count; k++) {
    const at = started + (k * 1000) / rate;
    const wait = at - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    while (inflight.size >= concurrency) await Promise.race(inflight);
    const p = one(warmup + k, true, at).finally(() => inflight.delete(p));
    inflight.add(p);
  }
  await Promise.all(inflight);
}

// This generator's own event-loop pauses, reported so they are not taken for the webhook's.
const lag = lagMonitor();
await run(warmup, false);
lag.reset();
const started = performance.now();
if (rate > 0) await runAtRate(total);
else await run(total, true);
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))];
console.log(JSON.stringify({
  requests: total,
  seconds,
  rps: total / seconds,
  p50: pct(0.5),
  p99: pct(0.99),
  max: latencies[latencies.length - 1],
  failures,
  pause: lag.stop(),
}));
for (const c of idle) c.close();
