/**
 * CreateLoadBalancer with pools and listeners in the request: one atomic change over real gRPC,
 * templates validated as a whole, address clashes checked with the new listeners, and an
 * existing load balancer returned as it is.
 */
import assert from "node:assert/strict";
import { type CreateLoadBalancerRequest, grpcCode } from "../mod/fiberlb/client.ts";
import { Status } from "../mod/grpc/mod.ts";
import { embedded, lbRequest, loopbackNet, poolTemplate } from "./fiberlb_support.ts";

const pool = (name: string, port = 8080) =>
  poolTemplate([{ address: "10.0.0.1", port }], { name, algorithm: "LEAST_CONN" });

const req = (o: Partial<CreateLoadBalancerRequest>) =>
  lbRequest({ org_id: "org-a", project_id: "proj-1", ...o });

async function rejects(p: Promise<unknown>, code: number, message: RegExp): Promise<void> {
  const err = await p.then(() => undefined, (e) => e as Error);
  assert.ok(err, `expected a gRPC error matching ${message}`);
  assert.equal(grpcCode(err), code, err.message);
  assert.match(err.message, message);
}

Deno.test("CreateLoadBalancer brings its pools and listeners in one call", async () => {
  const f = await embedded("templates");
  const net = loopbackNet();
  try {
    const lb = await f.client.createLoadBalancer(req({
      external_ip: net.ip(1),
      pools: [pool("web"), pool("dns", 5353)],
      listeners: [
        { name: "http", protocol: "TCP", port: 80, default_pool_name: "web" },
        { name: "", protocol: "UDP", port: 53, default_pool_name: "dns" },
      ],
    }));
    assert.deepEqual(lb.pools.map((p) => [p.name, p.algorithm, p.members[0].port]), [
      ["web", "LEAST_CONN", 8080],
      ["dns", "LEAST_CONN", 5353],
    ]);
    const byName = new Map(lb.pools.map((p) => [p.name, p.id]));
    assert.deepEqual(
      lb.listeners.map((l) => [l.name, l.protocol, l.port, l.default_pool_id]),
      [["http", "TCP", 80, byName.get("web")], ["udp-53", "UDP", 53, byName.get("dns")]],
    );
    // One call, one stored change: what a read returns is what the create answered.
    const read = await f.client.getLoadBalancer({ id: lb.id, org_id: "org-a", project_id: "" });
    assert.deepEqual(read.pools.map((p) => p.id), lb.pools.map((p) => p.id));
    assert.equal(read.revision, "1");
    assert.equal(f.lb.service.calls.get("CreatePool"), undefined);
    assert.equal(f.lb.service.calls.get("CreateListener"), undefined);

    // Idempotent by name: the existing load balancer comes back as it is.
    const again = await f.client.createLoadBalancer(req({
      external_ip: net.ip(1),
      pools: [pool("other")],
      listeners: [{ name: "x", protocol: "TCP", port: 81, default_pool_name: "other" }],
    }));
    assert.equal(again.id, lb.id);
    assert.deepEqual(again.pools.map((p) => p.name), ["web", "dns"]);
  } finally {
    await f.close();
  }
});

Deno.test("templates are validated as a whole and nothing is created on an error", async () => {
  const f = await embedded("templates-bad");
  const net = loopbackNet();
  try {
    const bad: Array<[Partial<CreateLoadBalancerRequest>, RegExp]> = [
      [
        { listeners: [{ name: "a", protocol: "TCP", port: 80, default_pool_name: "nope" }] },
        /listeners\[0\]\.default_pool_name: "nope"/,
      ],
      [{ pools: [pool("p"), pool("p")] }, /pools\[1\]\.name: "p"/],
      [
        { pools: [{ ...pool("p"), members: [{ address: "10.0.0", port: 80, weight: 1 }] }] },
        /pools\[0\]\.members/,
      ],
      [
        {
          listeners: [
            { name: "a", protocol: "TCP", port: 80, default_pool_name: "" },
            { name: "b", protocol: "TCP", port: 80, default_pool_name: "" },
          ],
        },
        /listeners\[1\]: "TCP\/80" — expected one listener per port/,
      ],
      [
        { listeners: [{ name: "a", protocol: "TCP", port: 70000, default_pool_name: "" }] },
        /listeners\[0\]\.port/,
      ],
    ];
    for (const [i, [o, message]] of bad.entries()) {
      await rejects(
        f.client.createLoadBalancer(req({ name: `bad-${i}`, external_ip: net.ip(2), ...o })),
        Status.INVALID_ARGUMENT,
        message,
      );
    }
    assert.deepEqual(await f.client.listAll({}), []);

    // Address sharing is checked with the new listeners: a clash refuses the whole create.
    const share = { ip_sharing_key: "k", external_ip: net.ip(3) };
    await f.client.createLoadBalancer(req({
      ...share,
      name: "one",
      listeners: [{ name: "a", protocol: "TCP", port: 80, default_pool_name: "" }],
    }));
    await rejects(
      f.client.createLoadBalancer(req({
        ...share,
        name: "two",
        listeners: [{ name: "a", protocol: "TCP", port: 80, default_pool_name: "" }],
      })),
      Status.ALREADY_EXISTS,
      /80/,
    );
    const two = await f.client.createLoadBalancer(req({
      ...share,
      name: "two",
      listeners: [{ name: "a", protocol: "TCP", port: 443, default_pool_name: "" }],
    }));
    assert.equal(two.external_ip, net.ip(3));
  } finally {
    await f.close();
  }
});
