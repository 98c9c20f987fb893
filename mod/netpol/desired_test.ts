import assert from "node:assert/strict";
import { desiredState, policyTypes } from "./desired.ts";
import { lspIps, namespaceInfos, podInfos } from "./inputs.ts";
import { and, cidrContains, or } from "./match.ts";
import {
  denyGroupName,
  hash64,
  KEYS,
  OWNER,
  OWNER_KEY,
  peerSetName,
  policyGroupName,
} from "./names.ts";
import type { NamespaceInfo, NetworkPolicy, PodInfo, PolicyPeer, PolicyPort } from "./types.ts";

const pod = (
  ns: string,
  name: string,
  labels: Record<string, string>,
  ip: string,
  extra: Partial<PodInfo> = {},
): PodInfo => ({
  namespace: ns,
  name,
  labels,
  ips: [ip],
  ports: [`${name}-c${ns}`],
  containerPorts: [],
  ...extra,
});
const nsi = (name: string, labels: Record<string, string> = {}): NamespaceInfo => ({
  name,
  labels,
});
const policy = (ns: string, name: string, spec: NetworkPolicy["spec"]): NetworkPolicy => ({
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
  metadata: { namespace: ns, name },
  spec,
});
const ingress = (from: PolicyPeer[] | undefined, ports?: PolicyPort[]) => ({ from, ports });
const egress = (to: PolicyPeer[] | undefined, ports?: PolicyPort[]) => ({ to, ports });

const PODS = [
  pod("shop", "web", { app: "web" }, "10.1.0.10", {
    containerPorts: [{ name: "http", port: 8080, protocol: "TCP" }],
  }),
  pod("shop", "frontend", { app: "frontend" }, "10.1.0.11"),
  pod("shop", "db", { app: "db" }, "10.1.0.12", {
    containerPorts: [{ name: "pg", port: 5432, protocol: "TCP" }],
  }),
  pod("other", "frontend", { app: "frontend" }, "10.2.0.11"),
  pod("kube-system", "coredns", { k8s: "dns" }, "10.3.0.10", { ips: ["10.3.0.10", "fd00::a"] }),
];
const NSS = [nsi("shop", { team: "a" }), nsi("other", { team: "b" }), nsi("kube-system")];
const state = (policies: NetworkPolicy[], pods = PODS, namespaces = NSS) =>
  desiredState({ policies, pods, namespaces });

Deno.test("netpol desired: no policy, no rows", () => {
  const s = state([]);
  assert.equal(s.portGroups.size, 0);
  assert.equal(s.addressSets.size, 0);
  assert.deepEqual(s.problems, []);
});

Deno.test("netpol desired: the spec's example (frontend → web:80) as port groups, sets and ACLs", () => {
  const s = state([policy("shop", "web", {
    podSelector: { matchLabels: { app: "web" } },
    ingress: [
      ingress([{ podSelector: { matchLabels: { app: "frontend" } } }], [{
        protocol: "TCP",
        port: 80,
      }]),
    ],
  })]);
  const pg = s.portGroups.get(policyGroupName("shop", "web"))!;
  assert.deepEqual(pg.ports, ["web-cshop"]);
  assert.equal(pg.externalIds[OWNER_KEY], OWNER);
  assert.equal(pg.externalIds[KEYS.name], "shop:web");
  const v4 = peerSetName("shop", "web", "ingress", 0, 4);
  const v6 = peerSetName("shop", "web", "ingress", 0, 6);
  // Only the frontend in the policy's own namespace, not the one in "other".
  assert.deepEqual(s.addressSets.get(v4)!.addresses, ["10.1.0.11"]);
  assert.deepEqual(s.addressSets.get(v6)!.addresses, []);
  assert.equal(pg.acls.length, 1);
  const acl = pg.acls[0];
  assert.equal(acl.direction, "to-lport");
  assert.equal(acl.action, "allow-related");
  assert.equal(acl.priority, 1001);
  assert.equal(
    acl.match,
    `outport == @${pg.name} && (ip4.src == $${v4} || ip6.src == $${v6}) && tcp && tcp.dst == 80`,
  );
  assert.equal(acl.externalIds[KEYS.id], "NetworkPolicy:shop:web:ingress:0");
  // The web pod is isolated for ingress: drop at 1000, ARP/ND allowed at 1001.
  const deny = s.portGroups.get(denyGroupName("shop", "ingress"))!;
  assert.deepEqual(deny.ports, ["web-cshop"]);
  assert.deepEqual(
    deny.acls.map((a) => [a.priority, a.action, a.match]),
    [[1000, "drop", `outport == @${deny.name}`], [
      1001,
      "allow",
      `outport == @${deny.name} && (arp || nd)`,
    ]],
  );
  assert.equal(s.portGroups.has(denyGroupName("shop", "egress")), false);
});

Deno.test("netpol desired: tenancy default-deny-all (egress only to DNS) isolates both ways", () => {
  const s = state([policy("shop", "default-deny-all", {
    podSelector: {},
    policyTypes: ["Ingress", "Egress"],
    egress: [egress([
      { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } } },
      { ipBlock: { cidr: "10.43.0.10/32" } },
    ], [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }])],
  })]);
  const all = ["db-cshop", "frontend-cshop", "web-cshop"];
  assert.deepEqual(s.portGroups.get(denyGroupName("shop", "ingress"))!.ports, all);
  const egressDeny = s.portGroups.get(denyGroupName("shop", "egress"))!;
  assert.deepEqual(egressDeny.ports, all);
  assert.equal(egressDeny.acls[0].direction, "from-lport");
  assert.equal(egressDeny.acls[0].match, `inport == @${egressDeny.name}`);
  assert.deepEqual(egressDeny.acls[0].options, { "apply-after-lb": "true" });
  const pg = s.portGroups.get(policyGroupName("shop", "default-deny-all"))!;
  assert.equal(pg.acls.length, 1); // no ingress rules: nothing allowed in
  const v4 = peerSetName("shop", "default-deny-all", "egress", 0, 4);
  const v6 = peerSetName("shop", "default-deny-all", "egress", 0, 6);
  // The namespace name label is implicit, as the API server sets it.
  assert.deepEqual(s.addressSets.get(v4)!.addresses, ["10.3.0.10"]);
  assert.deepEqual(s.addressSets.get(v6)!.addresses, ["fd00::a"]);
  assert.equal(
    pg.acls[0].match,
    `inport == @${pg.name} && (ip4.dst == $${v4} || ip6.dst == $${v6} || ip4.dst == 10.43.0.10/32)` +
      ` && ((udp && udp.dst == 53) || (tcp && tcp.dst == 53))`,
  );
});

Deno.test("netpol desired: ipBlock with except, v6, and invalid blocks reported", () => {
  const s = state([policy("shop", "blocks", {
    podSelector: { matchLabels: { app: "db" } },
    ingress: [ingress([
      { ipBlock: { cidr: "10.0.0.0/8", except: ["10.1.0.0/16", "10.2.5.0/24", "fd00::/8"] } },
      { ipBlock: { cidr: "fd00::1/8" } },
      { ipBlock: { cidr: "nonsense" } },
    ])],
  })]);
  const acl = s.portGroups.get(policyGroupName("shop", "blocks"))!.acls[0];
  assert.equal(
    acl.match,
    `outport == @${
      policyGroupName("shop", "blocks")
    } && ((ip4.src == 10.0.0.0/8 && ip4.src != {10.1.0.0/16, 10.2.5.0/24}) || ip6.src == fd00::/8)`,
  );
  assert.equal(s.problems.length, 1);
  assert.match(s.problems[0].message, /invalid ipBlock/);
  assert.equal(s.problems[0].policy, "shop/blocks");
});

Deno.test("netpol desired: namespace selectors, combined selectors, empty selectors", () => {
  const s = state([policy("shop", "ns", {
    podSelector: { matchLabels: { app: "db" } },
    ingress: [
      ingress([{ namespaceSelector: { matchLabels: { team: "b" } } }]),
      ingress([{ namespaceSelector: {}, podSelector: { matchLabels: { app: "frontend" } } }]),
      ingress([{
        namespaceSelector: {
          matchExpressions: [{ key: "team", operator: "In", values: ["a", "b"] }],
        },
        podSelector: { matchExpressions: [{ key: "app", operator: "NotIn", values: ["db"] }] },
      }]),
    ],
  })]);
  const set = (i: number) =>
    s.addressSets.get(peerSetName("shop", "ns", "ingress", i, 4))!.addresses;
  assert.deepEqual(set(0), ["10.2.0.11"]);
  assert.deepEqual(set(1), ["10.1.0.11", "10.2.0.11"]);
  assert.deepEqual(set(2), ["10.1.0.10", "10.1.0.11", "10.2.0.11"]);
});

Deno.test("netpol desired: named ports resolve per destination pod; endPort is a range", () => {
  const s = state([
    policy("shop", "named", {
      podSelector: {},
      policyTypes: ["Ingress", "Egress"],
      ingress: [ingress(undefined, [{ port: "http" }, { port: "missing" }])],
      egress: [
        egress([{ podSelector: { matchLabels: { app: "db" } } }], [{ port: "pg" }, {
          protocol: "UDP",
          port: 1000,
          endPort: 1010,
        }]),
      ],
    }),
    policy("shop", "unresolvable", {
      podSelector: {},
      ingress: [ingress(undefined, [{ port: "nope" }])],
    }),
  ]);
  const [ing, eg] = s.portGroups.get(policyGroupName("shop", "named"))!.acls;
  assert.equal(
    ing.match,
    `outport == @${
      policyGroupName("shop", "named")
    } && ip4.dst == 10.1.0.10 && tcp && tcp.dst == 8080`,
  );
  assert.match(
    eg.match,
    /\(\(ip4\.dst == 10\.1\.0\.12 && tcp && tcp\.dst == 5432\) \|\| \(udp && udp\.dst >= 1000 && udp\.dst <= 1010\)\)$/,
  );
  // A rule whose only port names nothing allows nothing: no ACL, isolation stays.
  assert.equal(s.portGroups.get(policyGroupName("shop", "unresolvable"))!.acls.length, 0);
});

Deno.test("netpol desired: allow-all rule, deny-all policy, policyTypes defaults", () => {
  const s = state([
    policy("shop", "allow-all", { podSelector: { matchLabels: { app: "web" } }, ingress: [{}] }),
    policy("other", "deny-all", { podSelector: {}, ingress: [] }),
  ]);
  const g = policyGroupName("shop", "allow-all");
  assert.equal(s.portGroups.get(g)!.acls[0].match, `outport == @${g}`);
  assert.equal(s.portGroups.get(policyGroupName("other", "deny-all"))!.acls.length, 0);
  assert.deepEqual(s.portGroups.get(denyGroupName("other", "ingress"))!.ports, ["frontend-cother"]);
  assert.deepEqual([...policyTypes(policy("a", "b", { podSelector: {} }))], ["ingress"]);
  assert.deepEqual([...policyTypes(policy("a", "b", { podSelector: {}, egress: [] }))], [
    "ingress",
    "egress",
  ]);
  assert.deepEqual(
    [...policyTypes(policy("a", "b", { podSelector: {}, policyTypes: ["Egress"] }))],
    ["egress"],
  );
});

Deno.test("netpol desired: bad selectors are problems and fail closed", () => {
  const s = state([
    policy("shop", "bad-target", {
      podSelector: { matchExpressions: [{ key: "a", operator: "Near" }] },
    }),
    policy("shop", "bad-peer", {
      podSelector: { matchLabels: { app: "web" } },
      ingress: [
        ingress([{
          podSelector: { matchExpressions: [{ key: "a", operator: "In", values: [] }] },
        }]),
      ],
    }),
  ]);
  assert.equal(s.portGroups.has(policyGroupName("shop", "bad-target")), false);
  assert.equal(s.problems.length, 2);
  // The bad peer matches nobody: the rule's address set stays empty.
  assert.deepEqual(
    s.addressSets.get(peerSetName("shop", "bad-peer", "ingress", 0, 4))!.addresses,
    [],
  );
  assert.deepEqual(s.portGroups.get(denyGroupName("shop", "ingress"))!.ports, ["web-cshop"]);
});

Deno.test("netpol desired: deterministic whatever the input order", () => {
  const policies = [
    policy("shop", "p1", { podSelector: {}, ingress: [ingress([{ podSelector: {} }])] }),
    policy("other", "p2", { podSelector: {}, egress: [egress([{ namespaceSelector: {} }])] }),
  ];
  const a = state(policies);
  const b = state([...policies].reverse(), [...PODS].reverse(), [...NSS].reverse());
  const dump = (x: typeof a) => JSON.stringify([[...x.portGroups], [...x.addressSets]]);
  assert.equal(dump(a), dump(b));
});

Deno.test("netpol names: FNV-1a 64 test vectors, identifier-safe names", () => {
  assert.equal(hash64(""), "cbf29ce484222325");
  assert.equal(hash64("a"), "af63dc4c8601ec8c");
  assert.equal(hash64("foobar"), "85944171f73967e8");
  for (
    const n of [
      denyGroupName("x", "ingress"),
      policyGroupName("x", "y"),
      peerSetName("x", "y", "egress", 3, 6),
    ]
  ) {
    assert.match(n, /^[A-Za-z_][A-Za-z0-9_]*$/);
  }
});

Deno.test("netpol match: mixed && and || always parenthesized", () => {
  assert.equal(and(["a", "b || c"]), "a && (b || c)");
  assert.equal(and(["a", "b && c"]), "a && b && c");
  assert.equal(and(["b || c"]), "b || c");
  assert.equal(or(["a && b", "c"]), "(a && b) || c");
  assert.equal(or(["x == {1, 2}", "(a && b)"]), "x == {1, 2} || (a && b)");
});

Deno.test("netpol inputs: pods from objects and logical ports", () => {
  const objs = [
    {
      metadata: { namespace: "a", name: "p", labels: { x: "1" } },
      spec: { containers: [{ ports: [{ name: "h", containerPort: 80 }] }] },
      status: { podIPs: [{ ip: "10.0.0.9" }] },
    },
    { metadata: { namespace: "a", name: "q" }, spec: {}, status: { podIP: "10.0.0.8" } },
    {
      metadata: { namespace: "a", name: "host" },
      spec: { hostNetwork: true },
      status: { podIP: "192.168.0.1" },
    },
    {
      metadata: { namespace: "a", name: "done" },
      spec: {},
      status: { phase: "Succeeded", podIP: "10.0.0.7" },
    },
  ];
  const infos = podInfos(objs, [{ name: "p-c1", namespace: "a", pod: "p", ips: ["10.0.0.5"] }]);
  assert.deepEqual(infos.map((p) => [p.name, p.ips, p.ports]), [["p", ["10.0.0.5"], ["p-c1"]], [
    "q",
    ["10.0.0.8"],
    [],
  ]]);
  assert.deepEqual(infos[0].containerPorts, [{ name: "h", port: 80, protocol: "TCP" }]);
  assert.deepEqual(lspIps(["0a:58:0a:00:00:05 10.0.0.5 fd00::5", "router"]), [
    "10.0.0.5",
    "fd00::5",
  ]);
  assert.deepEqual(namespaceInfos([{ metadata: { name: "n", labels: { a: "b" } } }]), [{
    name: "n",
    labels: { a: "b" },
  }]);
});

Deno.test("netpol match: CIDR containment for both families", () => {
  assert.ok(cidrContains("10.0.0.0/8", "10.200.3.4"));
  assert.ok(!cidrContains("10.0.0.0/8", "11.0.0.1"));
  assert.ok(cidrContains("0.0.0.0/0", "192.168.1.1"));
  assert.ok(cidrContains("10.1.2.3/32", "10.1.2.3"));
  assert.ok(!cidrContains("10.1.2.3/32", "10.1.2.4"));
  assert.ok(cidrContains("fd00::/8", "fd12::1"));
  assert.ok(!cidrContains("fd00::/8", "fe80::1"));
  assert.ok(!cidrContains("10.0.0.0/8", "fd00::1"));
});

Deno.test("netpol desired: egress named ports resolve over pods inside ipBlocks", () => {
  const s = state([policy("shop", "to-block", {
    podSelector: { matchLabels: { app: "web" } },
    policyTypes: ["Egress"],
    egress: [
      egress([{ ipBlock: { cidr: "10.1.0.0/16", except: ["10.1.0.10/32"] } }], [{ port: "pg" }, {
        port: "http",
      }]),
    ],
  })]);
  const acl = s.portGroups.get(policyGroupName("shop", "to-block"))!.acls[0];
  // db (10.1.0.12) carries "pg"; web carries "http" but sits in the except.
  assert.match(acl.match, /ip4\.dst == 10\.1\.0\.12 && tcp && tcp\.dst == 5432$/);
  assert.doesNotMatch(acl.match, /8080/);
});
