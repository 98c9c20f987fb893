/** The work queue coalesces, serialises per key, bounds concurrency, backs off and drains. */
import assert from "node:assert/strict";
import { createWorkQueue } from "../mod/kube/queue.ts";
import { waitFor } from "./kube_helpers.ts";

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

Deno.test("queue: repeated adds of a waiting key are handled once", async () => {
  const q = createWorkQueue({ concurrency: 2 });
  for (let i = 0; i < 50; i++) q.add("a");
  q.add("b");
  q.add("a");
  assert.equal(q.len(), 2);
  const seen: string[] = [];
  q.run(async (k) => {
    seen.push(k);
    await tick();
  });
  await q.idle();
  assert.deepEqual(seen.sort(), ["a", "b"]);
  await q.shutdown();
});

Deno.test("queue: a key is never handled twice at once; a re-add while running runs again after", async () => {
  const q = createWorkQueue({ concurrency: 4 });
  let running = 0, maxSame = 0, calls = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  q.run(async () => {
    running++;
    calls++;
    maxSame = Math.max(maxSame, running);
    if (calls === 1) await gate;
    running--;
  });
  q.add("k");
  await waitFor(() => q.processing() === 1);
  q.add("k");
  q.add("k");
  await tick(20);
  assert.equal(calls, 1, "not started again while in flight");
  release();
  await q.idle();
  assert.equal(calls, 2, "re-added once, run once more after");
  assert.equal(maxSame, 1);
  await q.shutdown();
});

Deno.test("queue: concurrency is bounded", async () => {
  const q = createWorkQueue({ concurrency: 3 });
  let now = 0, peak = 0;
  q.run(async () => {
    now++;
    peak = Math.max(peak, now);
    await tick(5);
    now--;
  });
  for (let i = 0; i < 20; i++) q.add(`k${i}`);
  await q.idle();
  assert.equal(peak, 3);
  await q.shutdown();
});

Deno.test("queue: failures back off exponentially per key; success forgets", async () => {
  const q = createWorkQueue({ baseDelayMs: 10, maxDelayMs: 1000 });
  const times: number[] = [];
  let other = 0;
  q.run((k) => {
    if (k === "ok") {
      other++;
      return Promise.resolve();
    }
    times.push(performance.now());
    if (times.length < 5) return Promise.reject(new Error("not yet"));
    return Promise.resolve();
  });
  q.add("bad");
  q.add("ok");
  await waitFor(() => times.length === 5, 3000);
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  // 10, 20, 40, 80 ms (timers may fire late, never early)
  gaps.forEach((g, i) => assert.ok(g >= 10 * 2 ** i - 2, `gap ${i} = ${g}`));
  assert.equal(other, 1, "another key was not held back");
  await q.idle();
  assert.equal(q.failures("bad"), 0, "success forgets the failures");
  q.addRateLimited("x");
  q.addRateLimited("x");
  assert.equal(q.failures("x"), 2);
  q.forget("x");
  assert.equal(q.failures("x"), 0);
  await q.shutdown();
});

Deno.test("queue: addAfter delays; the earliest wake-up wins", async () => {
  const q = createWorkQueue();
  const at: Record<string, number> = {};
  const t0 = performance.now();
  q.run((k) => {
    at[k] = performance.now() - t0;
    return Promise.resolve();
  });
  q.addAfter("a", 400);
  q.addAfter("a", 30);
  q.addAfter("a", 1000);
  q.addAfter("b", 0);
  await q.idle();
  assert.ok(at.b < at.a);
  assert.ok(at.a >= 28 && at.a < 400, `a ran at ${at.a}`);
  await q.shutdown();
});

Deno.test("queue: shutdown waits for in-flight handlers and takes no more keys", async () => {
  const q = createWorkQueue({ concurrency: 1 });
  let finished = 0;
  const started: string[] = [];
  q.run(async (k) => {
    started.push(k);
    await tick(40);
    finished++;
  });
  q.add("a");
  q.add("b");
  await waitFor(() => started.length === 1);
  await q.shutdown();
  assert.equal(finished, 1, "in-flight handler completed before shutdown resolved");
  q.add("c");
  await tick(20);
  assert.deepEqual(started, ["a"]);
});
