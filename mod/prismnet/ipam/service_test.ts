import { clientOptionsFromSection } from "../../grpc/section.ts";
import assert from "node:assert/strict";
import { ERR } from "../../../cni/spec.ts";
import { createIpamClient, IpamCallError } from "./client.ts";
import { startEmbeddedPrismnet } from "./service.ts";

const req = (containerId: string, namespace = "ns1") => ({
  network: "net",
  containerId,
  ifname: "eth0",
  podUid: `uid-${containerId}`,
  namespace,
  podName: "p",
  orgId: "",
  projectId: "",
  node: containerId.startsWith("n2") ? "node2" : "node1",
});

Deno.test("the real client drives the embedded NetworkService over gRPC", async () => {
  const dir = await Deno.makeTempDir({ prefix: "khcni-svc-" });
  const svc = await startEmbeddedPrismnet({
    dir: `${dir}/ipam`,
    address: `unix://${dir}/ipam.sock`,
    clusterCidr: "10.244.0.0/24",
    namespaceSubnetPrefix: 29,
    dnsServers: ["10.96.0.10"],
  });
  const ipam = createIpamClient({ endpoint: svc.server.target, timeoutMs: 2000 });
  try {
    const a = await ipam.allocate(req("a"));
    assert.deepEqual(a, {
      address: "10.244.0.2/29",
      gateway: "10.244.0.1",
      subnet: "10.244.0.0/29",
      dnsServers: ["10.96.0.10"],
      existing: false,
    });
    assert.equal((await ipam.allocate(req("a"))).existing, true);
    for (const id of ["b", "c", "n2d", "n2e"]) await ipam.allocate(req(id));
    const full = await ipam.allocate(req("f")).catch((e) => e);
    assert.ok(full instanceof IpamCallError && full.cni.code === ERR.addressesExhausted);
    const bad = await ipam.allocate({ ...req("g"), namespace: "Not_A_Namespace" }).catch((e) => e);
    assert.ok(bad instanceof IpamCallError && bad.cni.code === ERR.requestedUnavailable);
    const taken = await ipam.allocate({ ...req("h", "ns2"), requestedIp: "10.244.0.2" }).catch((
      e,
    ) => e);
    assert.ok(
      taken instanceof IpamCallError && taken.cni.code === ERR.requestedUnavailable,
      "outside ns2's subnet",
    );

    assert.deepEqual((await ipam.list({ node: "node2" })).map((l) => l.containerId), [
      "n2d",
      "n2e",
    ]);
    assert.deepEqual((await ipam.list({ containerId: "b" })).map((l) => l.address), [
      "10.244.0.3/29",
    ]);
    assert.equal((await ipam.list({})).length, 5);
    await ipam.ping();

    assert.deepEqual(await ipam.release(req("a")), { released: true, address: "10.244.0.2" });
    assert.deepEqual(await ipam.release(req("a")), { released: false, address: "" });
    const wrongPod = await ipam.release({ ...req("b"), podUid: "someone-else" }).catch((e) => e);
    assert.ok(wrongPod instanceof IpamCallError && wrongPod.cni.code === ERR.ipamFailed);
  } finally {
    ipam.close();
    await svc.stop();
  }
  // Down: transient, so the runtime retries.
  const down = createIpamClient({ endpoint: svc.server.target, timeoutMs: 500 });
  try {
    const e = await down.allocate(req("z")).catch((e) => e);
    assert.ok(e instanceof IpamCallError && e.cni.code === ERR.tryAgainLater, String(e));
  } finally {
    down.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a remote endpoint is reached over TLS unless insecure", async () => {
  const section = {
    endpoint: "prismnet-server:5000",
    caFile: "",
    certFile: "",
    keyFile: "",
    tokenFile: "",
    insecure: false,
    timeout: 1000,
  };
  const tls = await clientOptionsFromSection("prismnet", section);
  assert.equal(tls.tls, true);
  createIpamClient({ ...tls, timeoutMs: 1000 }).close();
  const plain = await clientOptionsFromSection("prismnet", { ...section, insecure: true });
  assert.equal(plain.tls, false);
});
