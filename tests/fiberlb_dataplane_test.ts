/**
 * The embedded FiberLB's data plane with real traffic: TCP spread and failover, least-conn,
 * ip-hash, client-IP affinity, HTTP health checks, UDP, and bind errors, all driven through the
 * gRPC contract.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import net from "node:net";
import {
  count,
  embedded,
  FAST_TCP_CHECK,
  lbRequest,
  lbWithPool,
  loopbackNet,
  nameServer,
  waitFor,
  whoAnswers,
} from "./fiberlb_support.ts";

Deno.test("tcp: round-robin spread, failover when a backend dies, recovery when it returns", async () => {
  const f = await embedded("dp-rr");
  const a = nameServer("A");
  let b = nameServer("B");
  const net24 = loopbackNet();
  const vip = net24.ip(10);
  try {
    const { poolId } = await lbWithPool(f.client, vip, 8080, [
      { address: "127.0.0.1", port: a.port },
      { address: "127.0.0.1", port: b.port },
    ]);
    const first = [];
    for (let i = 0; i < 20; i++) first.push(await whoAnswers(vip, 8080));
    assert.deepEqual(Object.fromEntries(count(first)), { A: 10, B: 10 });

    // Bytes flow both ways, unchanged, through the proxy.
    const conn = await Deno.connect({ hostname: vip, port: 8080 });
    const payload = new Uint8Array(1 << 20).map((_, i) => (i * 7919 + (i >> 11)) & 0xff);
    const echoed = new Uint8Array(payload.length + 2);
    const reader = (async () => {
      let got = 0;
      while (got < echoed.length) {
        const n = await conn.read(echoed.subarray(got));
        if (n === null) break;
        got += n;
      }
      return got;
    })();
    for (let off = 0; off < payload.length; off += 65536) {
      await conn.write(payload.subarray(off, off + 65536));
    }
    assert.equal(await reader, payload.length + 2);
    const body = echoed.subarray(2);
    assert.ok(body.every((v, i) => v === payload[i]), "echoed bytes differ");
    conn.close();

    const bPort = b.port;
    await b.close();
    const after = [];
    for (let i = 0; i < 10; i++) after.push(await whoAnswers(vip, 8080));
    assert.deepEqual(Object.fromEntries(count(after)), { A: 10 });
    await waitFor("B marked unhealthy", async () => {
      const pool = await f.client.getPool({ id: poolId });
      return pool.members.find((m) => m.port === bPort)?.health === "MEMBER_UNHEALTHY";
    });

    b = nameServer("B-again", "127.0.0.1");
    // The member is address+port: point the pool at the new port, as an endpoint update would.
    const pool = await f.client.getPool({ id: poolId });
    await f.client.updatePool({
      pool_id: poolId,
      ...pool,
      members: [{ address: "127.0.0.1", port: a.port, weight: 1 }, {
        address: "127.0.0.1",
        port: b.port,
        weight: 1,
      }],
    });
    await waitFor("new member healthy", async () => {
      const p = await f.client.getPool({ id: poolId });
      return p.members.every((m) => m.health === "MEMBER_HEALTHY");
    });
    const again = [];
    for (let i = 0; i < 10; i++) again.push(await whoAnswers(vip, 8080));
    assert.deepEqual(Object.fromEntries(count(again)), { A: 5, "B-again": 5 });
  } finally {
    await f.close();
    await a.close();
    await b.close();
  }
});

Deno.test("tcp: weights, least-conn and an empty pool", async () => {
  const f = await embedded("dp-lc");
  const a = nameServer("A");
  const b = nameServer("B");
  const net24 = loopbackNet();
  try {
    await lbWithPool(f.client, net24.ip(11), 9000, [
      { address: "127.0.0.1", port: a.port, weight: 3 },
      { address: "127.0.0.1", port: b.port, weight: 1 },
    ]);
    const seen = [];
    for (let i = 0; i < 8; i++) seen.push(await whoAnswers(net24.ip(11), 9000));
    assert.deepEqual(Object.fromEntries(count(seen)), { A: 6, B: 2 });

    await lbWithPool(f.client, net24.ip(12), 9000, [
      { address: "127.0.0.1", port: a.port },
      { address: "127.0.0.1", port: b.port },
    ], { algorithm: "LEAST_CONN" });
    const held: Array<{ conn: Deno.TcpConn; who: string }> = [];
    for (let i = 0; i < 4; i++) {
      const conn = await Deno.connect({ hostname: net24.ip(12), port: 9000 });
      const buf = new Uint8Array(16);
      const n = await conn.read(buf);
      held.push({ conn, who: new TextDecoder().decode(buf.subarray(0, n ?? 0)).trim() });
    }
    assert.deepEqual(Object.fromEntries(count(held.map((h) => h.who))), { A: 2, B: 2 });
    for (const h of held.filter((h) => h.who === "A")) h.conn.close();
    // The proxy sees the close asynchronously; then both new connections go to the idle member.
    await new Promise((r) => setTimeout(r, 100));
    const next = [await whoAnswers(net24.ip(12), 9000), await whoAnswers(net24.ip(12), 9000)];
    assert.deepEqual(next, ["A", "A"]);
    for (const h of held.filter((h) => h.who === "B")) h.conn.close();

    const empty = await lbWithPool(f.client, net24.ip(13), 9000, []);
    assert.ok(empty.lb.id);
    const c = await Deno.connect({ hostname: net24.ip(13), port: 9000 });
    assert.equal(await c.read(new Uint8Array(8)), null, "an empty pool closes the connection");
    c.close();
  } finally {
    await f.close();
    await a.close();
    await b.close();
  }
});

function whoFrom(localAddress: string, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, localAddress });
    let text = "";
    s.on("data", (d) => {
      text += d.toString();
      if (text.includes("\n")) {
        s.destroy();
        resolve(text.trim());
      }
    });
    s.on("error", reject);
  });
}

Deno.test("tcp: ip-hash is stable per client IP and spreads clients; client-ip affinity sticks", async () => {
  const f = await embedded("dp-hash");
  const a = nameServer("A");
  const b = nameServer("B");
  const net24 = loopbackNet();
  const clients = loopbackNet();
  try {
    const members = [{ address: "127.0.0.1", port: a.port }, {
      address: "127.0.0.1",
      port: b.port,
    }];
    await lbWithPool(f.client, net24.ip(20), 7000, members, { algorithm: "IP_HASH" });
    const perClient = new Map<string, Set<string>>();
    for (let c = 1; c <= 16; c++) {
      const src = clients.ip(c);
      const set = new Set<string>();
      for (let i = 0; i < 4; i++) set.add(await whoFrom(src, net24.ip(20), 7000));
      perClient.set(src, set);
    }
    for (const [src, set] of perClient) assert.equal(set.size, 1, `${src} moved between members`);
    const used = new Set([...perClient.values()].map((s) => [...s][0]));
    assert.deepEqual([...used].sort(), ["A", "B"], "16 clients all hashed to one member");

    await lbWithPool(f.client, net24.ip(21), 7000, members, {
      session_affinity: "CLIENT_IP",
      affinity_timeout_seconds: 60,
    });
    for (let c = 1; c <= 4; c++) {
      const seen = new Set<string>();
      for (let i = 0; i < 5; i++) seen.add(await whoFrom(clients.ip(c), net24.ip(21), 7000));
      assert.equal(seen.size, 1, "round-robin with client-ip affinity must stick");
    }
  } finally {
    await f.close();
    await a.close();
    await b.close();
  }
});

Deno.test("tcp: HTTP health checks take a failing member out", async () => {
  const f = await embedded("dp-http");
  const ac = new AbortController();
  const serve = (name: string, status: number) =>
    Deno.serve({ hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} }, (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/healthz") return new Response("", { status });
      return new Response(`${name}\n`);
    });
  const a = serve("A", 200);
  const b = serve("B", 503);
  const net24 = loopbackNet();
  try {
    const { poolId } = await lbWithPool(f.client, net24.ip(30), 8000, [
      { address: "127.0.0.1", port: a.addr.port },
      { address: "127.0.0.1", port: b.addr.port },
    ], { health_check: { ...FAST_TCP_CHECK, type: "HEALTH_CHECK_HTTP", path: "/healthz" } });
    const pool = await waitFor("health verdicts", async () => {
      const p = await f.client.getPool({ id: poolId });
      return p.members.every((m) => m.health !== "MEMBER_HEALTH_UNKNOWN") && p;
    });
    const health = Object.fromEntries(pool.members.map((m) => [m.port, m.health]));
    assert.equal(health[a.addr.port], "MEMBER_HEALTHY");
    await waitFor(
      "B unhealthy",
      async () =>
        (await f.client.getPool({ id: poolId })).members.find((m) => m.port === b.addr.port)
          ?.health === "MEMBER_UNHEALTHY",
    );
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`http://${net24.ip(30)}:8000/who`, {
        headers: { connection: "close" },
      });
      assert.equal((await res.text()).trim(), "A");
    }
  } finally {
    await f.close();
    ac.abort();
    await a.finished;
    await b.finished;
  }
});

Deno.test("udp: datagrams are proxied per client session and spread over members", async () => {
  const f = await embedded("dp-udp");
  const backends = await Promise.all(["A", "B"].map(async (name) => {
    const s = dgram.createSocket("udp4");
    s.on("message", (msg, r) => s.send(`${name}:${msg}`, r.port, r.address));
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
    return s;
  }));
  const net24 = loopbackNet();
  const clients: dgram.Socket[] = [];
  try {
    await lbWithPool(
      f.client,
      net24.ip(40),
      5353,
      backends.map((s) => ({
        address: "127.0.0.1",
        port: s.address().port,
      })),
      { health_check: null },
      "UDP",
    );
    const answers: string[] = [];
    for (let i = 0; i < 4; i++) {
      const c = dgram.createSocket("udp4");
      clients.push(c);
      await new Promise<void>((r) => c.bind(0, "127.0.0.1", () => r()));
      for (let j = 0; j < 2; j++) {
        const reply = new Promise<string>((r) => c.once("message", (m) => r(m.toString())));
        c.send(`ping${j}`, 5353, net24.ip(40));
        answers.push(await reply);
      }
    }
    // Each client's two datagrams went to the same member (a session); clients alternate.
    for (let i = 0; i < 4; i++) {
      assert.equal(answers[2 * i].split(":")[0], answers[2 * i + 1].split(":")[0]);
      assert.equal(answers[2 * i + 1].split(":")[1], "ping1");
    }
    assert.deepEqual(Object.fromEntries(count(answers.map((a) => a.split(":")[0]))), {
      A: 4,
      B: 4,
    });
  } finally {
    for (const c of clients) c.close();
    for (const s of backends) s.close();
    await f.close();
  }
});

Deno.test("listeners report bind errors and recover once the address is free", async () => {
  const f = await embedded("dp-bind");
  const net24 = loopbackNet();
  const blocker = Deno.listen({ hostname: net24.ip(50), port: 6000 });
  let blocked = true;
  try {
    const lb = await f.client.createLoadBalancer(
      lbRequest({ name: "bind", external_ip: net24.ip(50) }),
    );
    const l = await f.client.createListener({
      load_balancer_id: lb.id,
      name: "l",
      protocol: "TCP",
      port: 6000,
      default_pool_id: "",
    });
    assert.equal(l.status, "LISTENER_ERROR");
    assert.match(l.status_message, /cannot listen on 127\.\d+\.\d+\.50:6000\/TCP/);
    blocker.close();
    blocked = false;
    await waitFor(
      "listener active after retry",
      async () =>
        (await f.client.getLoadBalancer({ id: lb.id })).listeners[0].status === "LISTENER_ACTIVE",
    );

    // An address that is not local cannot be served while address management is off.
    const far = await f.client.createLoadBalancer(
      lbRequest({ name: "far", external_ip: "198.18.250.7" }),
    );
    const fl = await f.client.createListener({
      load_balancer_id: far.id,
      name: "l",
      protocol: "TCP",
      port: 80,
      default_pool_id: "",
    });
    assert.equal(fl.status, "LISTENER_ERROR");
    assert.match(fl.status_message, /198\.18\.250\.7 is not a local address/);
  } finally {
    if (blocked) blocker.close();
    await f.close();
  }
});
