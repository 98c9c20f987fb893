/**
 * The embedded FiberLB's contract over real gRPC: idempotent creation by name, address
 * uniqueness and sharing, tenancy, pagination and filters, validation, idempotent deletes, and
 * durable state across restarts.
 */
import assert from "node:assert/strict";
import {
  type CreateLoadBalancerRequest,
  type FiberlbClient,
  grpcCode,
} from "../mod/fiberlb/client.ts";
import { parseRange } from "../mod/fiberlb/pools.ts";
import { Status } from "../mod/grpc/mod.ts";
import {
  embedded,
  healthCheck,
  lbRequest,
  loopbackNet,
  nameServer,
  poolTemplate,
  tempDir,
  whoAnswers,
} from "./fiberlb_support.ts";

const req = (o: Partial<CreateLoadBalancerRequest>) =>
  lbRequest({ org_id: "org-a", project_id: "proj-1", ...o });

async function rejects(p: Promise<unknown>, code: number, message?: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.equal(
      grpcCode(err),
      code,
      `expected code ${code}, got ${grpcCode(err)}: ${(err as Error).message}`,
    );
    if (message) assert.match((err as Error).message, message);
    return;
  }
  assert.fail(`expected gRPC error ${code}`);
}

const listener = (c: FiberlbClient, lbId: string, port: number, protocol: "TCP" | "UDP" = "TCP") =>
  c.createListener({ load_balancer_id: lbId, name: "", protocol, port, default_pool_id: "" });

Deno.test("create is idempotent by name and refuses a different spec", async () => {
  const f = await embedded("api-idem", { dataPlane: false });
  try {
    const a = await f.client.createLoadBalancer(
      req({ name: "web", external_ip: "192.0.2.10", labels: { k: "v" } }),
    );
    const again = await f.client.createLoadBalancer(
      req({ name: "web", external_ip: "192.0.2.10", labels: { k: "v" } }),
    );
    assert.equal(again.id, a.id);
    assert.equal(again.external_ip, "192.0.2.10");
    await rejects(
      f.client.createLoadBalancer(
        req({ name: "web", external_ip: "192.0.2.11", labels: { k: "v" } }),
      ),
      Status.ALREADY_EXISTS,
      /different spec/,
    );
    await rejects(
      f.client.createLoadBalancer(
        req({ name: "web", external_ip: "192.0.2.10", labels: { k: "w" } }),
      ),
      Status.ALREADY_EXISTS,
    );
    // Same name in another tenant is another load balancer.
    const other = await f.client.createLoadBalancer(
      req({ name: "web", org_id: "org-b", external_ip: "192.0.2.12" }),
    );
    assert.notEqual(other.id, a.id);
    await rejects(
      f.client.getLoadBalancer({ name: "web" }),
      Status.FAILED_PRECONDITION,
      /several tenants/,
    );
    assert.equal(
      (await f.client.getLoadBalancer({ name: "web", org_id: "org-b", project_id: "proj-1" })).id,
      other.id,
    );

    const pool = await f.client.createPool({
      load_balancer_id: a.id,
      ...poolTemplate([{ address: "10.0.0.1", port: 80 }], { algorithm: "LEAST_CONN" }),
    });
    const poolAgain = await f.client.createPool({ ...pool, load_balancer_id: a.id });
    assert.equal(poolAgain.id, pool.id);
    await rejects(
      f.client.createPool({ ...pool, load_balancer_id: a.id, algorithm: "IP_HASH" }),
      Status.ALREADY_EXISTS,
    );
    const l1 = await f.client.createListener({
      load_balancer_id: a.id,
      name: "http",
      protocol: "TCP",
      port: 80,
      default_pool_id: pool.id,
    });
    const l2 = await f.client.createListener({
      load_balancer_id: a.id,
      name: "http",
      protocol: "TCP",
      port: 80,
      default_pool_id: pool.id,
    });
    assert.equal(l2.id, l1.id);
    await rejects(
      f.client.createListener({
        load_balancer_id: a.id,
        name: "other",
        protocol: "TCP",
        port: 80,
        default_pool_id: "",
      }),
      Status.ALREADY_EXISTS,
    );
    await rejects(f.client.deletePool({ id: pool.id }), Status.FAILED_PRECONDITION, /default pool/);
    const updated = await f.client.updatePool({
      pool_id: pool.id,
      ...pool,
      members: [{ address: "10.0.0.2", port: 81, weight: 5 }],
    });
    assert.deepEqual(updated.members.map((m) => [m.address, m.port, m.weight]), [[
      "10.0.0.2",
      81,
      5,
    ]]);
    assert.equal(updated.revision, "2");

    await f.client.deleteListener({ id: l1.id });
    await f.client.deleteListener({ id: l1.id }); // idempotent
    await f.client.deletePool({ id: pool.id });
    await f.client.deleteLoadBalancer({ id: a.id });
    await f.client.deleteLoadBalancer({ id: a.id });
    await rejects(f.client.getLoadBalancer({ id: a.id }), Status.NOT_FOUND);
    const calls = f.lb.service.calls;
    assert.equal(calls.get("DeleteLoadBalancer"), 2);
  } finally {
    await f.close();
  }
});

Deno.test("an external IP is never held twice, except by load balancers sharing it without port clashes", async () => {
  const f = await embedded("api-ip", { dataPlane: false });
  try {
    const a = await f.client.createLoadBalancer(req({ name: "a", external_ip: "192.0.2.20" }));
    await rejects(
      f.client.createLoadBalancer(req({ name: "b", external_ip: "192.0.2.20" })),
      Status.ALREADY_EXISTS,
      /used by load balancer a/,
    );
    // Two spellings of one IPv6 address are one address.
    await f.client.createLoadBalancer(req({ name: "v6", external_ip: "2001:db8::1" }));
    await rejects(
      f.client.createLoadBalancer(req({ name: "v6b", external_ip: "2001:DB8:0:0::1" })),
      Status.ALREADY_EXISTS,
    );

    const s1 = await f.client.createLoadBalancer(
      req({ name: "s1", external_ip: "192.0.2.30", ip_sharing_key: "k" }),
    );
    const s2 = await f.client.createLoadBalancer(
      req({ name: "s2", external_ip: "192.0.2.30", ip_sharing_key: "k" }),
    );
    await rejects(
      f.client.createLoadBalancer(
        req({ name: "s3", external_ip: "192.0.2.30", ip_sharing_key: "other" }),
      ),
      Status.ALREADY_EXISTS,
    );
    await rejects(
      f.client.createLoadBalancer(
        req({ name: "s4", org_id: "org-z", external_ip: "192.0.2.30", ip_sharing_key: "k" }),
      ),
      Status.ALREADY_EXISTS,
    );
    await listener(f.client, s1.id, 80);
    await listener(f.client, s2.id, 443);
    await listener(f.client, s2.id, 80, "UDP");
    await rejects(listener(f.client, s2.id, 80), Status.ALREADY_EXISTS, /TCP\/80 on 192\.0\.2\.30/);
    await rejects(
      f.client.updateLoadBalancer({
        id: a.id,
        description: "",
        labels: {},
        external_ip: "192.0.2.30",
      }),
      Status.ALREADY_EXISTS,
    );
  } finally {
    await f.close();
  }
});

Deno.test("tenancy scopes reads and deletes; list paginates and filters", async () => {
  const f = await embedded("api-list", { dataPlane: false });
  try {
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) {
      const lb = await f.client.createLoadBalancer(req({
        name: `k8s.c1.ns.svc${i}`,
        external_ip: `192.0.2.${100 + i}`,
        org_id: i % 2 ? "org-a" : "org-b",
        labels: { cluster: i < 20 ? "c1" : "c2" },
      }));
      ids.push(lb.id);
    }
    const seen: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const page = await f.client.listPage({}, 10, token);
      pages++;
      seen.push(...page.load_balancers.map((l) => l.id));
      token = page.next_page_token;
    } while (token);
    assert.equal(pages, 3);
    assert.deepEqual(seen, [...ids].sort());
    assert.equal((await f.client.listAll({ org_id: "org-a" }, 4)).length, 12);
    assert.equal((await f.client.listAll({ label_match: { cluster: "c2" } })).length, 5);
    assert.equal((await f.client.listAll({ name_prefix: "k8s.c1.ns.svc1" })).length, 11);
    assert.equal((await f.client.listAll({ name: "k8s.c1.ns.svc3" })).length, 1);
    await rejects(f.client.listPage({}, 10, "garbage!"), Status.INVALID_ARGUMENT, /page_token/);

    const bId = ids[0]; // org-b
    await rejects(f.client.getLoadBalancer({ id: bId, org_id: "org-a" }), Status.NOT_FOUND);
    await f.client.deleteLoadBalancer({ id: bId, org_id: "org-a" }); // not visible: nothing happens
    assert.ok(await f.client.getLoadBalancer({ id: bId }));
  } finally {
    await f.close();
  }
});

Deno.test("requests are validated with the field and the expectation", async () => {
  const f = await embedded("api-valid", { dataPlane: false });
  try {
    await rejects(
      f.client.createLoadBalancer(req({ external_ip: "300.1.1.1" })),
      Status.INVALID_ARGUMENT,
      /external_ip: "300\.1\.1\.1"/,
    );
    await rejects(
      f.client.createLoadBalancer(req({ name: "bad name" })),
      Status.INVALID_ARGUMENT,
      /name/,
    );
    await rejects(
      f.client.createLoadBalancer(req({ external_ip: "" })),
      Status.INVALID_ARGUMENT,
      /no address pool/,
    );
    const lb = await f.client.createLoadBalancer(req({ external_ip: "192.0.2.1" }));
    await rejects(listener(f.client, lb.id, 0), Status.INVALID_ARGUMENT, /port/);
    await rejects(
      f.client.createListener({
        load_balancer_id: lb.id,
        name: "",
        protocol: "HTTP",
        port: 80,
        default_pool_id: "",
      }),
      Status.UNIMPLEMENTED,
      /L4/,
    );
    const base = {
      load_balancer_id: lb.id,
      name: "p",
      algorithm: "ROUND_ROBIN" as const,
      session_affinity: "NONE" as const,
      affinity_timeout_seconds: 0,
      health_check: {
        type: "HEALTH_CHECK_HTTP" as const,
        path: "/h",
        interval_ms: 1000,
        timeout_ms: 2000,
        retries: 3,
        port: 0,
      },
      members: [],
    };
    await rejects(f.client.createPool(base), Status.INVALID_ARGUMENT, /timeout_ms/);
    await rejects(
      f.client.createPool({
        ...base,
        health_check: { ...base.health_check, timeout_ms: 100 },
        members: [{ address: "10.0.0.1", port: 70000, weight: 1 }],
      }),
      Status.INVALID_ARGUMENT,
      /members\[0\]\.port/,
    );
    await rejects(f.client.getLoadBalancer({ id: "nope" }), Status.INVALID_ARGUMENT);
  } finally {
    await f.close();
  }
});

Deno.test("an empty external_ip is taken from the embedded FiberLB's own pool", async () => {
  const f = await embedded("api-pool", {
    dataPlane: false,
    addressPool: { name: "own", ranges: [parseRange("192.0.2.50-192.0.2.51")] },
  });
  try {
    const a = await f.client.createLoadBalancer(req({ name: "a" }));
    const b = await f.client.createLoadBalancer(req({ name: "b" }));
    assert.deepEqual([a.external_ip, b.external_ip], ["192.0.2.50", "192.0.2.51"]);
    await rejects(f.client.createLoadBalancer(req({ name: "c" })), Status.RESOURCE_EXHAUSTED);
  } finally {
    await f.close();
  }
});

Deno.test("state survives a restart and the data plane comes back with it", async () => {
  const dir = await tempDir("api-restart");
  const net24 = loopbackNet();
  const backend = nameServer("kept");
  try {
    let f = await embedded("api-restart", { dataDir: dir });
    const lb = await f.client.createLoadBalancer(req({ name: "keep", external_ip: net24.ip(5) }));
    const pool = await f.client.createPool({
      load_balancer_id: lb.id,
      ...poolTemplate([{ address: "127.0.0.1", port: backend.port }], {
        health_check: healthCheck("HEALTH_CHECK_NONE"),
      }),
    });
    await f.client.createListener({
      load_balancer_id: lb.id,
      name: "l",
      protocol: "TCP",
      port: 7070,
      default_pool_id: pool.id,
    });
    assert.equal(await whoAnswers(net24.ip(5), 7070), "kept");
    const gone = await f.client.createLoadBalancer(req({ name: "gone", external_ip: "192.0.2.9" }));
    await f.client.deleteLoadBalancer({ id: gone.id });
    await f.close();
    // A crash mid-append leaves a torn last line, a crash mid-snapshot a temporary file: both
    // were never acknowledged, and both are discarded.
    await Deno.writeTextFile(`${dir}/fiberlb/journal.log`, '{"put":{"id":"lb-0', { append: true });
    await Deno.writeTextFile(`${dir}/fiberlb/snapshot.json.tmp-deadbeef`, '{"trunc');

    f = await embedded("api-restart", { dataDir: dir });
    try {
      const all = await f.client.listAll();
      assert.deepEqual(all.map((l) => l.name), ["keep"]);
      assert.equal(all[0].id, lb.id);
      assert.equal(all[0].listeners[0].status, "LISTENER_ACTIVE");
      assert.equal(all[0].pools[0].members[0].port, backend.port);
      assert.equal(await whoAnswers(net24.ip(5), 7070), "kept");
      const files = [...Deno.readDirSync(`${dir}/fiberlb`)].map((e) => e.name).sort();
      assert.deepEqual(files.filter((n) => !n.endsWith(".sock")), ["journal.log"]);
      assert.equal(Deno.statSync(`${dir}/fiberlb/journal.log`).mode! & 0o777, 0o600);
    } finally {
      await f.close();
    }
  } finally {
    await backend.close();
    await Deno.remove(dir, { recursive: true });
  }
});
