import assert from "node:assert/strict";
import type { WireRequest } from "../../cni/spec.ts";
import { configureLogging, logger } from "../log/mod.ts";
import { Registry } from "../metrics/mod.ts";
import { SocketServer } from "./daemon.ts";
import { KeyedMutex } from "./lock.ts";
import { namespaceTenants, tenantFromLabels } from "./tenant.ts";
import type { KubeApi } from "../kube/api.ts";

configureLogging({ level: "error" });

Deno.test("socket server answers each line in order and survives garbage", async () => {
  const dir = await Deno.makeTempDir({ prefix: "khcni-sock-" });
  const metrics = new Registry();
  const seen: string[] = [];
  const server = new SocketServer(
    `${dir}/s.sock`,
    {
      handle: (req: WireRequest) => {
        seen.push(req.env.containerId);
        if (req.env.containerId === "boom") throw new Error("handler blew up");
        return Promise.resolve({ exit: 0, output: `{"id":"${req.env.containerId}"}` });
      },
    },
    logger("test"),
    metrics,
  );
  await server.start();
  try {
    assert.equal((await Deno.stat(`${dir}/s.sock`)).mode! & 0o777, 0o600);
    await assert.rejects(
      new SocketServer(`${dir}/s.sock`, { handle: () => Promise.reject() }, logger("t")).start(),
      /another/,
    );
    const conn = await Deno.connect({ transport: "unix", path: `${dir}/s.sock` });
    const lines = ["a", "boom", "b"].map((id) =>
      JSON.stringify({ env: { command: "ADD", containerId: id }, stdin: "" })
    );
    await conn.write(new TextEncoder().encode(lines.join("\n") + "\nnot json\n"));
    let text = "";
    const buf = new Uint8Array(4096);
    while (text.split("\n").length < 5) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    conn.close();
    const answers = text.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(answers[0], { exit: 0, output: `{"id":"a"}` });
    assert.equal(answers[1].exit, 1);
    assert.equal(JSON.parse(answers[1].output).code, 999);
    assert.deepEqual(answers[2], { exit: 0, output: `{"id":"b"}` });
    assert.equal(JSON.parse(answers[3].output).code, 6);
    assert.deepEqual(seen, ["a", "boom", "b"]);
    assert.match(metrics.render(), /prismnet_cni_requests_total\{command="ADD",result="ok"\} 2/);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
  // A stale socket file from a crash is replaced.
  const dir2 = await Deno.makeTempDir({ prefix: "khcni-sock-" });
  const l = Deno.listen({ transport: "unix", path: `${dir2}/s.sock` });
  l.close();
  const s2 = new SocketServer(`${dir2}/s.sock`, {
    handle: () => Promise.resolve({ exit: 0, output: "" }),
  }, logger("t"));
  await s2.start();
  await s2.stop();
  await Deno.remove(dir2, { recursive: true });
});

Deno.test("keyed mutex serialises one key and lets others run", async () => {
  const m = new KeyedMutex();
  const order: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const first = m.run("c1", async () => {
    order.push("c1-start");
    await gate;
    order.push("c1-end");
  });
  const second = m.run("c1", () => Promise.resolve(order.push("c1-second")));
  await m.run("c2", () => Promise.resolve(order.push("c2")));
  assert.ok(m.busy("c1"));
  assert.equal(await m.tryRun("c1", () => Promise.resolve(1)), undefined);
  release();
  await Promise.all([first, second]);
  assert.deepEqual(order, ["c1-start", "c2", "c1-end", "c1-second"]);
  assert.ok(!m.busy("c1"));
  assert.equal(await m.tryRun("c1", () => Promise.resolve(1)), 1);
});

Deno.test("tenants come from namespace labels, cached; API errors are try-again-later", async () => {
  assert.deepEqual(
    tenantFromLabels({ "plasmacloud.io/org-id": "o1", "plasmacloud.io/project-id": "p1" }),
    {
      orgId: "o1",
      projectId: "p1",
    },
  );
  let calls = 0;
  let fail = false;
  const api = {
    tryGet: (_ref: unknown, name: string) => {
      calls++;
      if (fail) return Promise.reject(new Error("connection refused"));
      return Promise.resolve(
        name === "t1"
          ? { metadata: { name, labels: { "plasmacloud.io/org-id": "o1" } } }
          : undefined,
      );
    },
  } as unknown as KubeApi;
  const tenantOf = namespaceTenants(api);
  assert.deepEqual(await tenantOf("t1"), { orgId: "o1", projectId: "" });
  assert.deepEqual(await tenantOf("t1"), { orgId: "o1", projectId: "" });
  assert.equal(calls, 1);
  assert.deepEqual(await tenantOf("gone"), { orgId: "", projectId: "" });
  fail = true;
  await assert.rejects(tenantOf("t2"), (e: { cni: { code: number } }) => e.cni.code === 11);
});
