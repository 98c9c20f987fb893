import assert from "node:assert/strict";
import { afterCrash, policyFromConfig, recentCrashes, type RestartPolicy } from "./policy.ts";

const P: RestartPolicy = {
  backoffMs: 1000,
  backoffMaxMs: 60_000,
  crashLoopLimit: 5,
  crashLoopWindowMs: 600_000,
};

Deno.test("restart policy: delay doubles per crash in the window, capped at backoffMax", () => {
  const crashes: number[] = [];
  const delays: number[] = [];
  for (let i = 0; i < 4; i++) {
    const now = 10_000 + i * 1000;
    crashes.push(now);
    const d = afterCrash(crashes, now, P);
    assert.equal(d.giveUp, false);
    if (!d.giveUp) delays.push(d.delayMs);
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000]);
  const capped = afterCrash([1, 2, 3, 4, 5, 6, 7, 8], 8, {
    ...P,
    crashLoopLimit: 100,
    backoffMaxMs: 30_000,
  });
  assert.deepEqual(capped, { giveUp: false, delayMs: 30_000, recent: 8 });
});

Deno.test("restart policy: gives up at crashLoopLimit crashes inside the window", () => {
  assert.deepEqual(afterCrash([1, 2, 3, 4, 5], 5, P), { giveUp: true, recent: 5 });
  assert.deepEqual(afterCrash([1, 2, 3, 4], 4, P), { giveUp: false, delayMs: 8000, recent: 4 });
  assert.deepEqual(afterCrash([7], 7, { ...P, crashLoopLimit: 1 }), { giveUp: true, recent: 1 });
});

Deno.test("restart policy: crashes older than the window are forgotten", () => {
  const old = [0, 1000, 2000, 3000];
  const now = 700_000;
  assert.deepEqual(recentCrashes([...old, now], now, P), [now]);
  assert.deepEqual(afterCrash([...old, now], now, P), { giveUp: false, delayMs: 1000, recent: 1 });
  // A crash exactly one window ago is outside it.
  assert.deepEqual(recentCrashes([100_000, 700_000], 700_000, P), [700_000]);
});

Deno.test("restart policy: zero backoff restarts at once; huge counts do not overflow", () => {
  assert.deepEqual(afterCrash([5], 5, { ...P, backoffMs: 0 }), {
    giveUp: false,
    delayMs: 0,
    recent: 1,
  });
  const many = Array.from({ length: 2000 }, (_, i) => i);
  const d = afterCrash(many, 1999, { ...P, crashLoopLimit: 1_000_000 });
  assert.deepEqual(d, { giveUp: false, delayMs: 60_000, recent: 2000 });
});

Deno.test("restart policy: built from the k3s config section", () => {
  assert.deepEqual(
    policyFromConfig({
      restartBackoff: 1,
      restartBackoffMax: 2,
      crashLoopLimit: 3,
      crashLoopWindow: 4,
    }),
    { backoffMs: 1, backoffMaxMs: 2, crashLoopLimit: 3, crashLoopWindowMs: 4 },
  );
});
