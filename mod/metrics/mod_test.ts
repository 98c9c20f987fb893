import assert from "node:assert/strict";
import { Registry } from "./mod.ts";

Deno.test("metrics: a collected counter is read at scrape time and shadows inc()", () => {
  const r = new Registry();
  let syncs = 3;
  const c = r.counter("journal_syncs_total", "Syncs.");
  c.collect({}, () => syncs);
  c.inc({ method: "Get" }, 2);
  syncs = 5;
  const text = r.render();
  assert.match(text, /^journal_syncs_total 5$/m);
  assert.match(text, /^journal_syncs_total\{method="Get"\} 2$/m);
  assert.equal(c.get(), 5);
});

Deno.test("metrics: another registry's snapshot is mirrored, and a newer one replaces it", () => {
  const inner = new Registry();
  inner.counter("calls_total", "Calls.").inc({ method: "Create" });
  inner.gauge("held", "Held.").set({}, 7);
  const outer = new Registry();
  outer.counter("own_total", "Own.").inc();
  // Through structured clone, as across a worker's postMessage.
  outer.mirror(structuredClone(inner.snapshot()));
  assert.match(outer.render(), /# TYPE calls_total counter\ncalls_total\{method="Create"\} 1\n/);
  assert.match(outer.render(), /^held 7$/m);
  assert.match(outer.render(), /^own_total 1$/m);
  inner.counter("calls_total", "Calls.").inc({ method: "Create" });
  outer.mirror(inner.snapshot());
  assert.match(outer.render(), /calls_total\{method="Create"\} 2\n/);
  assert.equal(outer.render().match(/# HELP calls_total/g)?.length, 1);
});
