import assert from "node:assert/strict";
import { IpamError } from "./lease.ts";
import { LeaseStore } from "./store.ts";

const req = (containerId: string, namespace = "ns1", extra: Record<string, string> = {}) => ({
  network: "net",
  containerId,
  ifname: "eth0",
  podUid: `uid-${containerId}`,
  namespace,
  podName: `pod-${containerId}`,
  orgId: "",
  projectId: "",
  node: "node1",
  ...extra,
});

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "khcni-store-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("allocate is idempotent per key; namespaces get their own subnets", () =>
  withDir(async (dir) => {
    const s = await LeaseStore.open(dir, "10.244.0.0/16", 24);
    const a = await s.allocate(req("a"));
    assert.equal(a.existing, false);
    assert.equal(a.lease.ip, "10.244.0.2");
    assert.equal(a.lease.gateway, "10.244.0.1");
    const again = await s.allocate(req("a"));
    assert.equal(again.existing, true);
    assert.equal(again.lease.ip, "10.244.0.2");
    const b = await s.allocate(req("b", "ns2"));
    assert.equal(b.lease.subnet, "10.244.1.0/24");
    assert.equal(b.lease.ip, "10.244.1.2");
    await assert.rejects(s.allocate(req("a", "ns2")), (e: IpamError) => e.kind === "conflict");
  }));

Deno.test("leases survive a reopen and are never handed out twice", () =>
  withDir(async (dir) => {
    let s = await LeaseStore.open(dir, "10.244.0.0/16", 24);
    const ips = new Set<string>();
    for (const id of ["a", "b", "c"]) ips.add((await s.allocate(req(id))).lease.ip);
    await s.release("net", "b", "eth0");
    s = await LeaseStore.open(dir, "10.244.0.0/16", 24);
    assert.equal(s.get("net", "a", "eth0")?.ip, "10.244.0.2");
    assert.equal(s.get("net", "b", "eth0"), undefined);
    for (const id of ["d", "e"]) {
      const ip = (await s.allocate(req(id))).lease.ip;
      assert.ok(!["10.244.0.2", "10.244.0.4"].includes(ip), `${ip} is still held`);
    }
    // A torn lease file still blocks its address.
    await Deno.writeTextFile(`${dir}/leases/10.244.0.9`, "{");
    s = await LeaseStore.open(dir, "10.244.0.0/16", 24);
    const got = await s.allocate(req("f", "ns1", { requestedIp: "10.244.0.9" })).catch((e) => e);
    assert.ok(got instanceof IpamError && got.kind === "conflict");
    await assert.rejects(LeaseStore.open(dir, "10.245.0.0/16", 24), /re-carve/);
  }));

Deno.test("concurrent allocations from two stores on one directory never collide", () =>
  withDir(async (dir) => {
    const s1 = await LeaseStore.open(dir, "10.244.0.0/16", 24);
    await s1.ensureSubnet("ns1", "", "");
    const s2 = await LeaseStore.open(dir, "10.244.0.0/16", 24);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? s1 : s2).allocate(req(`c${i}`))),
    );
    const ips = results.filter((r) => r.status === "fulfilled").map((r) =>
      (r as PromiseFulfilledResult<{ lease: { ip: string } }>).value.lease.ip
    );
    assert.equal(new Set(ips).size, ips.length, "no address granted twice");
    const files = [...Deno.readDirSync(`${dir}/leases`)].filter((e) => !e.name.startsWith("."));
    assert.equal(files.length, ips.length);
  }));

Deno.test("requested addresses, exhaustion and tenants", () =>
  withDir(async (dir) => {
    const s = await LeaseStore.open(dir, "10.244.0.0/28", 29); // two /29 subnets, 5 usable each
    const r = await s.allocate(req("a", "ns1", { requestedIp: "10.244.0.6" }));
    assert.equal(r.lease.ip, "10.244.0.6");
    for (const bad of ["10.244.0.1", "10.244.0.7", "10.244.0.8", "10.9.9.9"]) {
      await assert.rejects(
        s.allocate(req(`x${bad}`, "ns1", { requestedIp: bad })),
        (e: IpamError) => e.kind === "invalid",
        bad,
      );
    }
    for (const id of ["b", "c", "d", "e"]) await s.allocate(req(id));
    await assert.rejects(s.allocate(req("f")), (e: IpamError) => e.kind === "exhausted");
    await s.ensureSubnet("ns2", "org1", "proj1");
    await assert.rejects(s.ensureSubnet("ns3", "", ""), (e: IpamError) => e.kind === "exhausted");
    await assert.rejects(s.allocate(req("g", "ns2", { orgId: "org2" })), (e: IpamError) =>
      e.kind === "tenant");
    const ok = await s.allocate(req("g", "ns2", { orgId: "org1" }));
    assert.equal(ok.lease.projectId, "proj1", "the namespace's tenant is recorded on the lease");
    assert.deepEqual(
      s.list({ namespace: "ns2" }).map((l) =>
        l.containerId
      ),
      ["g"],
    );
  }));
