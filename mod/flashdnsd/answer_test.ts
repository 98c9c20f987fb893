/** Answer logic on decoded packets: the cases dig does not easily produce. */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import dnsPacket from "dns-packet";
import { answer, encodeUdp, RCODE, udpLimit, zoneOf } from "./answer.ts";
import { RecordStore } from "./store.ts";
import { normalizeRecordSet } from "../flashdns/records.ts";

async function view() {
  const store = await RecordStore.open();
  await store.upsert([
    {
      zone: "cluster.local",
      name: "web.default.svc",
      type: "A",
      values: ["10.96.0.100"],
      ttl: 30,
      labels: {},
    },
    {
      zone: "cluster.local",
      name: "web.default.svc",
      type: "TXT",
      values: ["hello"],
      ttl: 30,
      labels: {},
    },
    {
      zone: "cluster.local",
      name: "alias.default.svc",
      type: "CNAME",
      values: ["web.default.svc.cluster.local."],
      ttl: 30,
      labels: {},
    },
    {
      zone: "cluster.local",
      name: "loop1",
      type: "CNAME",
      values: ["loop2.cluster.local."],
      ttl: 30,
      labels: {},
    },
    {
      zone: "cluster.local",
      name: "loop2",
      type: "CNAME",
      values: ["loop1.cluster.local."],
      ttl: 30,
      labels: {},
    },
  ].map(normalizeRecordSet));
  return { store, zones: ["cluster.local", "10.in-addr.arpa"], soaTtl: 30 };
}

function q(name: string, type = "A", extra: Record<string, unknown> = {}) {
  return {
    type: "query",
    id: 7,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type, class: "IN" }],
    ...extra,
  };
}

const rcode = (p: { flags: number }) => p.flags & 0xf;

Deno.test("answer: zone matching takes the longest suffix and respects label boundaries", () => {
  assert.equal(zoneOf("a.cluster.local", ["local", "cluster.local"]), "cluster.local");
  assert.equal(zoneOf("xcluster.local", ["cluster.local"]), undefined);
  assert.equal(zoneOf("cluster.local", ["cluster.local"]), "cluster.local");
});

Deno.test("answer: in-zone CNAME is followed; ANY returns every type; loops end in SERVFAIL", async () => {
  const v = await view();
  const a = answer(q("alias.default.svc.cluster.local"), v, false);
  assert.equal(a.kind, "answer");
  if (a.kind !== "answer") return;
  assert.deepEqual(a.response.answers.map((r: { type: string }) => r.type), ["CNAME", "A"]);
  assert.equal(a.chase, undefined);
  const any = answer(q("web.default.svc.cluster.local", "ANY"), v, false);
  if (any.kind !== "answer") throw new Error("expected an answer");
  assert.deepEqual(any.response.answers.map((r: { type: string }) => r.type).sort(), ["A", "TXT"]);
  const loop = answer(q("loop1.cluster.local"), v, false);
  if (loop.kind !== "answer") throw new Error("expected an answer");
  assert.equal(rcode(loop.response), RCODE.SERVFAIL);
});

Deno.test("answer: NOTIMP for other opcodes, FORMERR for several questions, REFUSED for class CH", async () => {
  const v = await view();
  const notimp = answer({ ...q("web.default.svc.cluster.local"), opcode: "UPDATE" }, v, false);
  assert.equal(notimp.kind === "answer" && rcode(notimp.response), RCODE.NOTIMP);
  const two = answer(
    {
      ...q("a.cluster.local"),
      questions: [{ name: "a.cluster.local", type: "A" }, { name: "b.cluster.local", type: "A" }],
    },
    v,
    false,
  );
  assert.equal(two.kind === "answer" && rcode(two.response), RCODE.FORMERR);
  const ch = answer(
    {
      ...q("web.default.svc.cluster.local"),
      questions: [{ name: "web.default.svc.cluster.local", type: "A", class: "CH" }],
    },
    v,
    false,
  );
  assert.equal(ch.kind === "answer" && rcode(ch.response), RCODE.REFUSED);
  assert.equal(answer(q("example.org"), v, true).kind, "forward");
});

Deno.test("answer: RD is echoed, AA set, RA only when forwarding exists", async () => {
  const v = await view();
  const a = answer(q("web.default.svc.cluster.local"), v, false);
  if (a.kind !== "answer") throw new Error("expected an answer");
  const flags = a.response.flags;
  assert.ok(flags & dnsPacket.AUTHORITATIVE_ANSWER);
  assert.ok(flags & dnsPacket.RECURSION_DESIRED);
  assert.ok(!(flags & dnsPacket.RECURSION_AVAILABLE));
  const b = answer(q("web.default.svc.cluster.local"), v, true);
  if (b.kind !== "answer") throw new Error("expected an answer");
  assert.ok(b.response.flags & dnsPacket.RECURSION_AVAILABLE);
});

Deno.test("answer: UDP size limit follows EDNS, and truncation keeps only the question", async () => {
  assert.equal(udpLimit(q("x")), 512);
  assert.equal(
    udpLimit(q("x", "A", { additionals: [{ type: "OPT", name: ".", udpPayloadSize: 1232 }] })),
    1232,
  );
  assert.equal(
    udpLimit(q("x", "A", { additionals: [{ type: "OPT", name: ".", udpPayloadSize: 100 }] })),
    512,
  );
  assert.equal(
    udpLimit(q("x", "A", { additionals: [{ type: "OPT", name: ".", udpPayloadSize: 65000 }] })),
    4096,
  );
  const store = await RecordStore.open();
  const ips = Array.from({ length: 60 }, (_, i) => `10.0.0.${i + 1}`);
  await store.upsert([
    normalizeRecordSet({ zone: "cluster.local", name: "big", type: "A", values: ips, ttl: 30 }),
  ]);
  const query = q("big.cluster.local");
  const a = answer(query, { store, zones: ["cluster.local"], soaTtl: 30 }, false);
  if (a.kind !== "answer") throw new Error("expected an answer");
  const wire = dnsPacket.decode(Buffer.from(encodeUdp(query, a.response)));
  assert.equal(wire.flag_tc, true);
  assert.deepEqual(wire.answers, []);
  assert.equal(wire.questions[0].name, "big.cluster.local");
});
