import assert from "node:assert/strict";
import { Logger } from "../log/mod.ts";
import { Registry } from "../metrics/mod.ts";
import type { Part } from "../part/mod.ts";
import { PartRunner, type RunnerEntry } from "./runner.ts";

interface FakeOpts {
  /** Start throws this message for the first `failTimes` starts. */
  fail?: string;
  failTimes?: number;
  /** Start waits for the abort signal (a part stuck starting). */
  hang?: boolean;
  /** stop() never resolves. */
  stuckStop?: boolean;
}

function fake(name: string, events: string[], o: FakeOpts = {}): RunnerEntry {
  let starts = 0;
  let running = false;
  return {
    name,
    build: () =>
      Promise.resolve<Part>({
        name,
        async start(signal) {
          starts++;
          events.push(`start:${name}`);
          if (o.hang) {
            await new Promise((_, reject) =>
              signal.addEventListener("abort", () => reject(new Error("aborted")))
            );
          }
          if (o.fail && starts <= (o.failTimes ?? Infinity)) throw new Error(o.fail);
          running = true;
        },
        stop() {
          events.push(`stop:${name}`);
          running = false;
          return o.stuckStop ? new Promise(() => {}) : Promise.resolve();
        },
        ready: () => running ? true : "not running",
      }),
  };
}

const quiet = () => ({ log: new Logger("test").with({}), metrics: new Registry() });

Deno.test("runner: starts in order, stops in reverse order, reports state and metrics", async () => {
  const events: string[] = [];
  const { log, metrics } = quiet();
  const r = new PartRunner([fake("a", events), fake("b", events), fake("c", events)], {
    log,
    metrics,
  });
  await r.build();
  assert.deepEqual(r.statuses().map((s) => s.state), ["pending", "pending", "pending"]);
  await r.start();
  assert.deepEqual(events, ["start:a", "start:b", "start:c"]);
  assert.equal(r.allReady(), true);
  assert.equal(metrics.gauge("k8shost_part_state", "").get({ part: "b", state: "running" }), 1);
  assert.equal(metrics.gauge("k8shost_part_state", "").get({ part: "b", state: "pending" }), 0);
  assert.equal(metrics.gauge("k8shost_part_ready", "").get({ part: "c" }), 1);
  await r.stop();
  assert.deepEqual(events.slice(3), ["stop:c", "stop:b", "stop:a"]);
  assert.deepEqual(r.statuses().map((s) => s.state), ["stopped", "stopped", "stopped"]);
  await r.stop(); // idempotent
  assert.equal(events.length, 6);
});

Deno.test("runner: a failing part is reported and the others still start; it is retried", async () => {
  const events: string[] = [];
  const { log, metrics } = quiet();
  const r = new PartRunner(
    [
      fake("a", events),
      fake("b", events, { fail: "backend unreachable", failTimes: 2 }),
      fake("c", events),
    ],
    { log, metrics, retryMs: 50, retryMaxMs: 1000 },
  );
  await r.build();
  await r.start();
  assert.deepEqual(events, ["start:a", "start:b", "start:c"]);
  assert.equal(r.ready("b"), "backend unreachable");
  assert.equal(r.allReady(), false);
  assert.equal(r.ready("c"), true);
  // Retried after 50 ms (fails), then after 100 ms (succeeds); each retry stops the part first.
  const deadline = Date.now() + 5000;
  while (r.ready("b") !== true) {
    assert.ok(Date.now() < deadline, "b never recovered");
    await new Promise((res) => setTimeout(res, 10));
  }
  assert.deepEqual(events.slice(3), ["stop:b", "start:b", "stop:b", "start:b"]);
  assert.equal(r.statuses()[1].failures, 2);
  assert.equal(metrics.counter("k8shost_part_start_failures_total", "").get({ part: "b" }), 2);
  assert.equal(r.allReady(), true);
  await r.stop();
});

Deno.test("runner: build failures and unavailable parts fail for good, with their message", async () => {
  const events: string[] = [];
  const { log, metrics } = quiet();
  const r = new PartRunner([
    {
      name: "gone",
      build: () => Promise.reject(new Error("mod/x.ts cannot be loaded: Module not found")),
    },
    {
      name: "api",
      build: () => Promise.reject(new Error("never called")),
      unavailable: "needs the API",
    },
    fake("ok", events),
  ], { log, metrics, retryMs: 10 });
  await r.build();
  await r.start();
  assert.equal(r.ready("gone"), "mod/x.ts cannot be loaded: Module not found");
  assert.equal(r.ready("api"), "needs the API");
  assert.equal(r.ready("ok"), true);
  await new Promise((res) => setTimeout(res, 50));
  assert.deepEqual(events, ["start:ok"], "no retries of permanent failures");
  await r.stop();
  assert.deepEqual(events, ["start:ok", "stop:ok"]);
  assert.deepEqual(r.statuses().map((s) => s.state), ["failed", "failed", "stopped"]);
});

Deno.test("runner: stop aborts a part stuck starting and abandons one stuck stopping", async () => {
  const events: string[] = [];
  const { log, metrics } = quiet();
  const r = new PartRunner(
    [fake("slow-stop", events, { stuckStop: true }), fake("hang", events, { hang: true })],
    { log, metrics, stopTimeoutMs: 200 },
  );
  await r.build();
  const starting = r.start();
  await new Promise((res) => setTimeout(res, 20));
  assert.equal(r.statuses()[1].state, "starting");
  const t0 = Date.now();
  await r.stop();
  await starting;
  assert.ok(Date.now() - t0 < 2000);
  assert.deepEqual(events, ["start:slow-stop", "start:hang", "stop:hang", "stop:slow-stop"]);
  assert.deepEqual(r.statuses().map((s) => s.state), ["stopped", "stopped"]);
});
