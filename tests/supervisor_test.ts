/**
 * The k3s supervisor against the stand-in k3s executable (tests/support/fake-k3s): readiness,
 * log forwarding, restart with backoff, the crash-loop limit, SIGKILL after the grace period and
 * no processes left behind (checked in /proc).
 */
import assert from "node:assert/strict";
import { K3sSupervisor, type SupervisorOptions } from "../mod/k3s/supervisor.ts";
import { K3sBinaryError } from "../mod/k3s/process.ts";
import { groupMembers, startTimeOf } from "../mod/k3s/process.ts";
import { Registry } from "../mod/metrics/mod.ts";
import {
  alive,
  captureLogs,
  FAKE_K3S,
  makeTlsDir,
  pathWithDeno,
  readStarts,
  waitFor,
} from "./supervisor_support.ts";

interface Rig {
  dir: string;
  sup: K3sSupervisor;
  metrics: Registry;
  logs: Record<string, unknown>[];
  cleanup(): Promise<void>;
}

async function rig(
  fakeEnv: Record<string, string>,
  opts: Partial<SupervisorOptions> = {},
): Promise<Rig> {
  const dir = await Deno.makeTempDir({ prefix: "kh-sup-" });
  const metrics = new Registry();
  const cap = captureLogs();
  const sup = new K3sSupervisor({
    bin: FAKE_K3S,
    argv: ["server", `--data-dir=${dir}/k3s`, `--write-kubeconfig=${dir}/kubeconfig.yaml`],
    kubeconfig: `${dir}/kubeconfig.yaml`,
    policy: { backoffMs: 100, backoffMaxMs: 1000, crashLoopLimit: 5, crashLoopWindowMs: 60_000 },
    stopGraceMs: 3000,
    readyTimeoutMs: 20_000,
    probeIntervalMs: 50,
    healthIntervalMs: 200,
    env: {
      ...Deno.env.toObject(),
      PATH: pathWithDeno(),
      NOTIFY_SOCKET: "/run/kh-sup-test/notify",
      FAKE_K3S_STATE_DIR: dir,
      ...fakeEnv,
    },
    metrics,
    ...opts,
  });
  return {
    dir,
    sup,
    metrics,
    logs: cap.records,
    async cleanup() {
      await sup.stop();
      cap.restore();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("supervisor: k3s becomes ready; argv, env and log lines are passed through", async () => {
  const r = await rig({ FAKE_K3S_READY_AFTER_MS: "300" });
  try {
    r.sup.start();
    assert.match(String(r.sup.ready()), /not written yet|starting/);
    await r.sup.waitReady();
    assert.equal(r.sup.ready(), true);
    const [start] = readStarts(r.dir);
    assert.deepEqual(start.argv, [
      "server",
      `--data-dir=${r.dir}/k3s`,
      `--write-kubeconfig=${r.dir}/kubeconfig.yaml`,
    ]);
    assert.equal(start.notifySocket, null, "NOTIFY_SOCKET must be withheld from k3s");
    assert.equal(start.pgid, start.pid, "k3s leads its own process group");
    // Ready only after the kubeconfig was written (300 ms after start).
    assert.ok(Date.now() - start.time >= 300);
    assert.equal(r.metrics.gauge("k8shost_k3s_ready", "").get(), 1);
    assert.equal(r.metrics.gauge("k8shost_k3s_up", "").get(), 1);
    await waitFor("log lines", () => r.logs.some((l) => l.msg === "fake server running"));
    const logrus = r.logs.find((l) => String(l.msg).startsWith("Starting k3s v1.31.4"))!;
    assert.equal(logrus.component, "k3s");
    assert.equal(logrus.level, "info");
    assert.equal(logrus.pid, start.pid);
    assert.equal(logrus.stream, "stderr");
    const klog = r.logs.find((l) => l.msg === "fake server running")!;
    assert.equal(klog.source, "server.go:42");
    assert.ok(r.logs.some((l) => l.msg === "fake-k3s: stdout line" && l.stream === "stdout"));
  } finally {
    await r.cleanup();
  }
});

Deno.test("supervisor: readiness over HTTPS checks the kubeconfig's CA and sends its token", async () => {
  const tls = await Deno.makeTempDir({ prefix: "kh-sup-tls-" });
  await makeTlsDir(tls);
  const r = await rig({ FAKE_K3S_TLS_DIR: tls });
  try {
    r.sup.start();
    await r.sup.waitReady();
    assert.equal(r.sup.ready(), true);
    assert.match(
      Deno.readTextFileSync(`${r.dir}/kubeconfig.yaml`),
      /server: https:\/\/127\.0\.0\.1:/,
    );
  } finally {
    await r.cleanup();
    await Deno.remove(tls, { recursive: true });
  }
});

Deno.test("supervisor: restarts a crashing k3s with doubling backoff, then runs on", async () => {
  const r = await rig(
    { FAKE_K3S_CRASH_AFTER_MS: "50", FAKE_K3S_CRASH_TIMES: "3", FAKE_K3S_READY_AFTER_MS: "1000" },
    {
      policy: { backoffMs: 300, backoffMaxMs: 5000, crashLoopLimit: 5, crashLoopWindowMs: 60_000 },
    },
  );
  try {
    r.sup.start();
    await r.sup.waitReady();
    const starts = readStarts(r.dir);
    assert.equal(starts.length, 4);
    assert.equal(r.sup.restarts, 3);
    assert.equal(r.metrics.counter("k8shost_k3s_restarts_total", "").get(), 3);
    // Each gap is crash time (~50 ms after start) + backoff: 300, 600, 1200 ms.
    const gaps = starts.slice(1).map((s, i) => s.time - starts[i].time);
    [300, 600, 1200].forEach((backoff, i) => {
      assert.ok(gaps[i] >= backoff + 50, `gap ${i} = ${gaps[i]} ms, expected >= ${backoff + 50}`);
      assert.ok(
        gaps[i] < backoff + 3000,
        `gap ${i} = ${gaps[i]} ms, expected well under ${backoff + 3000}`,
      );
    });
    const exits = r.logs.filter((l) =>
      String(l.msg).startsWith("k3s exited unexpectedly (exit code 1)")
    );
    assert.deepEqual(exits.map((l) => l.restartInMs), [300, 600, 1200]);
  } finally {
    await r.cleanup();
  }
});

Deno.test("supervisor: gives up after crashLoopLimit crashes within the window", async () => {
  const r = await rig(
    { FAKE_K3S_CRASH_AFTER_MS: "30", FAKE_K3S_EXIT_CODE: "3", FAKE_K3S_READY_AFTER_MS: "5000" },
    { policy: { backoffMs: 50, backoffMaxMs: 200, crashLoopLimit: 3, crashLoopWindowMs: 60_000 } },
  );
  try {
    r.sup.start();
    await assert.rejects(
      r.sup.waitReady(),
      /k3s crashed 3 times within 60s \(last: exit code 3\); giving up/,
    );
    const end = await r.sup.done;
    assert.equal(end.reason, "failed");
    assert.equal(readStarts(r.dir).length, 3);
    assert.equal(r.sup.phase, "failed");
    assert.match(String(r.sup.ready()), /giving up/);
  } finally {
    await r.cleanup();
  }
});

Deno.test("supervisor: SIGTERM to the group; a k3s ignoring it is SIGKILLed after the grace period", async () => {
  const r = await rig(
    { FAKE_K3S_IGNORE_TERM: "1", FAKE_K3S_GRANDCHILD: "1" },
    { stopGraceMs: 800 },
  );
  try {
    r.sup.start();
    await r.sup.waitReady();
    const [start] = readStarts(r.dir);
    assert.ok(start.grandchild && alive(start.grandchild), "grandchild runs");
    assert.deepEqual(groupMembers(start.pid).sort(), [start.pid, start.grandchild].sort());
    const t0 = Date.now();
    await r.sup.stop();
    const took = Date.now() - t0;
    assert.ok(took >= 800, `stop took ${took} ms; the grace period is 800 ms`);
    assert.ok(took < 5000, `stop took ${took} ms`);
    assert.equal(alive(start.pid), false, "k3s is gone");
    assert.equal(alive(start.grandchild!), false, "its child is gone too (no orphan)");
    assert.deepEqual(groupMembers(start.pid), []);
    assert.ok(r.logs.some((l) => String(l.msg).includes("sending SIGKILL to its process group")));
    assert.ok(r.logs.some((l) => l.msg === "ignoring SIGTERM"), "k3s did get SIGTERM first");
    assert.equal((await r.sup.done).reason, "stopped");
  } finally {
    await r.cleanup();
  }
});

Deno.test("supervisor: a cooperative k3s stops on SIGTERM well within the grace period", async () => {
  const r = await rig({ FAKE_K3S_GRANDCHILD: "1" }, { stopGraceMs: 10_000 });
  try {
    r.sup.start();
    await r.sup.waitReady();
    const [start] = readStarts(r.dir);
    const t0 = Date.now();
    await r.sup.stop();
    assert.ok(Date.now() - t0 < 3000);
    assert.deepEqual(groupMembers(start.pid), []);
    assert.equal(alive(start.grandchild!), false);
    assert.ok(r.logs.some((l) => l.msg === "Received SIGTERM, shutting down"));
    assert.equal(r.logs.some((l) => String(l.msg).includes("SIGKILL")), false);
  } finally {
    await r.cleanup();
  }
});

Deno.test("supervisor: what k3s leaves in its group after a crash is killed before the restart", async () => {
  const r = await rig(
    { FAKE_K3S_CRASH_AFTER_MS: "300", FAKE_K3S_CRASH_TIMES: "1", FAKE_K3S_GRANDCHILD: "1" },
    { policy: { backoffMs: 50, backoffMaxMs: 100, crashLoopLimit: 5, crashLoopWindowMs: 60_000 } },
  );
  try {
    r.sup.start();
    await waitFor("second start", () => readStarts(r.dir).length === 2);
    const [first] = readStarts(r.dir);
    assert.equal(alive(first.grandchild!), false);
    assert.deepEqual(groupMembers(first.pid), []);
  } finally {
    await r.cleanup();
  }
});

Deno.test("supervisor: a missing k3s executable is a clear error naming the fix", async () => {
  const r = await rig({}, { bin: "kh-sup-no-such-k3s" });
  try {
    assert.throws(
      () => r.sup.start(),
      (e: unknown) =>
        e instanceof K3sBinaryError &&
        /k3s executable "kh-sup-no-such-k3s" not found on PATH/.test(e.message) &&
        /--k3s-bin/.test(e.message) && /k3s\.bin/.test(e.message),
    );
    const r2 = await rig({}, { bin: "/nonexistent/k3s" });
    try {
      assert.throws(
        () => r2.sup.start(),
        /"\/nonexistent\/k3s" does not exist or is not executable/,
      );
    } finally {
      await r2.cleanup();
    }
  } finally {
    await r.cleanup();
  }
});

Deno.test("supervisor: readyTimeout fails the wait with the last probe's reason", async () => {
  const r = await rig({ FAKE_K3S_READY_AFTER_MS: "60000" }, { readyTimeoutMs: 700 });
  try {
    r.sup.start();
    await assert.rejects(
      r.sup.waitReady(),
      /k3s not ready after 0\.7s: kubeconfig .* not written yet/,
    );
  } finally {
    await r.cleanup();
  }
});

Deno.test("supervisor: a k3s left running by a killed k8shost is stopped before the next start", async () => {
  const r = await rig({ FAKE_K3S_GRANDCHILD: "1" }, {});
  const pidFile = `${r.dir}/k3s.pid`;
  // The "previous" k3s, started as the supervisor would, then abandoned.
  const orphan = new Deno.Command(FAKE_K3S, {
    args: ["server", `--write-kubeconfig=${r.dir}/old.yaml`],
    env: { PATH: pathWithDeno(), FAKE_K3S_STATE_DIR: r.dir, FAKE_K3S_GRANDCHILD: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  try {
    await waitFor("orphan start", () => readStarts(r.dir).length === 1);
    const [old] = readStarts(r.dir);
    await Deno.writeTextFile(
      pidFile,
      JSON.stringify({ pgid: old.pid, startTime: startTimeOf(old.pid) }),
    );
    const sup = new K3sSupervisor({
      bin: FAKE_K3S,
      argv: ["server", `--write-kubeconfig=${r.dir}/kubeconfig.yaml`],
      kubeconfig: `${r.dir}/kubeconfig.yaml`,
      pidFile,
      policy: { backoffMs: 100, backoffMaxMs: 100, crashLoopLimit: 3, crashLoopWindowMs: 10_000 },
      stopGraceMs: 2000,
      readyTimeoutMs: 20_000,
      probeIntervalMs: 50,
      env: { PATH: pathWithDeno(), FAKE_K3S_STATE_DIR: r.dir },
    });
    assert.equal(await sup.reapLeftover(), true);
    assert.equal(alive(old.pid), false);
    assert.equal(alive(old.grandchild!), false);
    assert.deepEqual(groupMembers(old.pid), []);
    sup.start();
    await sup.waitReady();
    const now = readStarts(r.dir)[1];
    const rec = JSON.parse(await Deno.readTextFile(pidFile));
    assert.deepEqual(rec, { pgid: now.pid, startTime: startTimeOf(now.pid) });
    await sup.stop();
    await assert.rejects(Deno.stat(pidFile), Deno.errors.NotFound, "pid file removed at stop");
    // A pid file naming a process that is gone (or a reused pid) reaps nothing.
    await Deno.writeTextFile(pidFile, JSON.stringify({ pgid: now.pid, startTime: "1" }));
    assert.equal(await sup.reapLeftover(), false);
  } finally {
    await orphan.status;
    await r.cleanup();
  }
});
