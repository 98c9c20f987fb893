/**
 * Bad configurations, each with the exact message a user sees. Every case is written to a real
 * file (YAML) and loaded through loadConfig, so parsing, schema and cross-field checks all run.
 */
import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "./mod.ts";
import { formatIssue } from "./schema.ts";

const dir = Deno.makeTempDirSync({ prefix: "kh-config-bad-" });
const tokenFile = `${dir}/token`;
Deno.writeTextFileSync(tokenFile, "K10secret::server:abc\n", { mode: 0o600 });
const missing = `${dir}/nope.pem`;

interface Case {
  name: string;
  config: Record<string, unknown>;
  mode?: "server" | "agent";
  expected: string[];
}

const CASES: Case[] = [
  {
    name: "bad CIDR prefix",
    config: { networking: { clusterCIDR: "10.244.0.0/33" } },
    expected: [
      'networking.clusterCIDR: "10.244.0.0/33" — expected a CIDR such as "10.0.0.0/16" or "fd00::/64"',
    ],
  },
  {
    name: "CIDR with host bits",
    config: { networking: { clusterCIDR: "10.244.1.0/16" } },
    expected: [
      'networking.clusterCIDR: "10.244.1.0/16" — expected a network address with no host bits set (10.244.0.0/16)',
    ],
  },
  {
    name: "overlapping service and cluster CIDRs",
    config: { networking: { serviceCIDR: "10.244.128.0/20" } },
    expected: [
      'networking.serviceCIDR: "10.244.128.0/20" — expected a CIDR that does not overlap networking.clusterCIDR (10.244.0.0/16)',
    ],
  },
  {
    name: "IP family mismatch",
    config: { networking: { serviceCIDR: "fd00:96::/108" } },
    expected: [
      'networking.serviceCIDR: "fd00:96::/108" — expected an IPv4 CIDR like networking.clusterCIDR (10.244.0.0/16)',
    ],
  },
  {
    name: "unknown key with a did-you-mean",
    config: { log: { levl: "debug" } },
    expected: [
      'log.levl: "debug" — expected a known key — did you mean "level"? (known: level, format)',
    ],
  },
  {
    name: "agent without serverUrl and tokenFile",
    config: {},
    mode: "agent",
    expected: [
      'serverUrl: "" — expected the https:// URL of a server to join (required when mode is agent)',
      'tokenFile: "" — expected a file holding the cluster join token (required when mode is agent)',
    ],
  },
  {
    name: "etcd with neither clusterInit nor serverUrl",
    config: { datastore: "etcd" },
    expected: [
      'datastore: "etcd" — expected etcd with clusterInit: true (first server) or serverUrl (joining server), or sqlite',
    ],
  },
  {
    name: "etcd with both clusterInit and serverUrl",
    config: { datastore: "etcd", clusterInit: true, serverUrl: "https://10.0.0.1:6443", tokenFile },
    expected: [
      "clusterInit: true — expected false when serverUrl is set (a joining server does not initialise the cluster)",
    ],
  },
  {
    name: "clusterInit with sqlite",
    config: { clusterInit: true },
    expected: [
      "clusterInit: true — expected false with datastore sqlite (clusterInit starts embedded etcd: set datastore: etcd)",
    ],
  },
  {
    name: "joining etcd server without a token",
    config: { datastore: "etcd", serverUrl: "https://k8s.internal:6443" },
    expected: [
      'tokenFile: "" — expected a file holding the cluster join token (required with serverUrl)',
    ],
  },
  {
    name: "plain http serverUrl",
    config: { serverUrl: "http://10.0.0.1:6443" },
    mode: "agent",
    expected: [
      'serverUrl: "http://10.0.0.1:6443" — expected an https:// URL such as https://k8s-api-lb.internal:6443',
      'tokenFile: "" — expected a file holding the cluster join token (required when mode is agent)',
    ],
  },
  {
    name: "node port range in the wrong order",
    config: { networking: { nodePortRange: "32767-30000" } },
    expected: [
      'networking.nodePortRange: "32767-30000" — expected a range whose first port is not above its last',
    ],
  },
  {
    name: "node port range out of bounds",
    config: { networking: { nodePortRange: "0-70000" } },
    expected: ['networking.nodePortRange: "0-70000" — expected ports between 1 and 65535'],
  },
  {
    name: "clusterDNS outside serviceCIDR",
    config: { networking: { clusterDNS: "10.244.0.10" } },
    expected: [
      'networking.clusterDNS: "10.244.0.10" — expected a host address inside networking.serviceCIDR (10.96.0.0/12)',
    ],
  },
  {
    name: "unreadable token file",
    config: { tokenFile: missing },
    expected: [`tokenFile: "${missing}" — expected a readable file (no such file)`],
  },
  {
    name: "TLS file that is a directory",
    config: { iam: { endpoint: "iam.internal:3000", caFile: dir } },
    expected: [`iam.caFile: "${dir}" — expected a readable file (not a regular file)`],
  },
  {
    name: "relative path",
    config: { dataDir: "var/lib/k8shost" },
    expected: ['dataDir: "var/lib/k8shost" — expected an absolute path'],
  },
  {
    name: "bad fiberlb pool strings",
    config: { fiberlb: { pools: ["public=192.0.2.0/24,198.51.100.20-198.51.100.10", "Bad Name"] } },
    expected: [
      'fiberlb.pools[0]: "public=192.0.2.0/24,198.51.100.20-198.51.100.10" — expected a range whose first address is not above its last (in "198.51.100.20-198.51.100.10")',
      'fiberlb.pools[1]: "Bad Name" — expected name=cidr-or-range[,cidr-or-range...] with a DNS-label name, e.g. public=192.0.2.0/24',
    ],
  },
  {
    name: "external pool overlapping the pod CIDR",
    config: { fiberlb: { externalIpPool: "10.244.255.0/24" } },
    expected: [
      'fiberlb.externalIpPool: "10.244.255.0/24" — expected addresses outside networking.clusterCIDR (10.244.255.0/24 overlaps it)',
    ],
  },
  {
    name: "bad enum, duration and integer",
    config: { log: { level: "verbose" }, k3s: { stopGrace: "5 minutes" }, prismnet: { mtu: 100 } },
    expected: [
      'k3s.stopGrace: "5 minutes" — expected a duration such as "500ms", "30s", "2m" or "1h"',
      'log.level: "verbose" — expected one of debug, info, warn, error',
      "prismnet.mtu: 100 — expected an integer >= 576 and <= 65535",
    ],
  },
  {
    name: "two listeners on one port",
    config: { iam: { webhook: { listen: "0.0.0.0:10258" } } },
    expected: [
      'iam.webhook.listen: "0.0.0.0:10258" — expected a port not already used by health.listen (127.0.0.1:10258)',
    ],
  },
  {
    name: "listen port above 65535",
    config: { health: { listen: "127.0.0.1:99999" } },
    expected: ['health.listen: "127.0.0.1:99999" — expected a port between 0 and 65535'],
  },
  {
    name: "remote endpoint without TLS",
    config: { fiberlb: { endpoint: "fiberlb.internal:7000" } },
    expected: [
      'fiberlb.caFile: "" — expected a CA file for TLS to fiberlb.internal:7000 (or fiberlb.insecure: true for plaintext)',
    ],
  },
  {
    name: "plaintext with a bearer token",
    config: { flashdns: { endpoint: "10.1.2.3:6000", insecure: true, tokenFile } },
    expected: [
      "flashdns.insecure: true — expected false while flashdns.tokenFile is set (a bearer token is never sent in plaintext)",
    ],
  },
  {
    name: "client certificate without key",
    config: { lightningstor: { endpoint: "127.0.0.1:8000", certFile: tokenFile } },
    expected: [
      'lightningstor.keyFile: "" — expected a file set together with lightningstor.certFile (mTLS needs both)',
    ],
  },
  {
    name: "namespace subnets larger than the pod CIDR",
    config: { prismnet: { namespaceSubnetPrefix: 12 } },
    expected: [
      "prismnet.namespaceSubnetPrefix: 12 — expected a prefix length between 16 (networking.clusterCIDR 10.244.0.0/16) and 30",
    ],
  },
  {
    name: "restart backoff above its maximum",
    config: { k3s: { restartBackoff: "2m", restartBackoffMax: "1m" } },
    expected: ['k3s.restartBackoff: "2m" — expected at most k3s.restartBackoffMax (1m)'],
  },
  {
    name: "a key named like an Object.prototype member",
    config: { log: { constructor: "x" } },
    expected: ['log.constructor: "x" — expected a known key (known: level, format)'],
  },
  {
    name: "a mapping where a value belongs",
    config: { mode: { server: true } },
    expected: ['mode: {"server":true} — expected one of server, agent'],
  },
  {
    name: "a value where a mapping belongs",
    config: { networking: "10.0.0.0/8" },
    expected: ['networking: "10.0.0.0/8" — expected a mapping of keys to values'],
  },
  {
    name: "agent that initialises a cluster",
    config: { serverUrl: "https://10.0.0.1:6443", tokenFile, clusterInit: true },
    mode: "agent",
    expected: ["clusterInit: true — expected false when mode is agent"],
  },
  {
    name: "bad upstream resolver and TLS SAN",
    config: { flashdns: { upstreams: ["dns.google"] }, networking: { tlsSans: ["bad name"] } },
    expected: [
      'networking.tlsSans[0]: "bad name" — expected a DNS name or an IP address',
      'flashdns.upstreams[0]: "dns.google" — expected a resolver IP or ip:port such as 192.0.2.53 or [2001:db8::53]:53',
    ],
  },
];

for (const c of CASES) {
  Deno.test(`bad config: ${c.name}`, async () => {
    const file = `${dir}/${c.name.replace(/\W+/g, "-")}.yaml`;
    await Deno.writeTextFile(file, JSON.stringify(c.config));
    const err = await loadConfig({ file, env: {}, mode: c.mode }).then(
      () => assert.fail("expected a ConfigError"),
      (e) => e,
    );
    assert.ok(err instanceof ConfigError, String(err));
    assert.deepEqual(err.issues.map(formatIssue), c.expected);
  });
}

Deno.test("bad config: the message lists every issue", async () => {
  const file = `${dir}/two.yaml`;
  await Deno.writeTextFile(file, "log:\n  level: loud\n  format: xml\n");
  const err = await loadConfig({ file, env: {} }).catch((e) => e);
  assert.equal(
    err.message,
    [
      "invalid configuration (2 problems):",
      '  log.level: "loud" — expected one of debug, info, warn, error',
      '  log.format: "xml" — expected one of json, logfmt',
    ].join("\n"),
  );
});

globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
