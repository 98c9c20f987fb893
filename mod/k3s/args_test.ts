import assert from "node:assert/strict";
import { validate } from "../config/schema.ts";
import { type Config, configSpec } from "../config/spec.ts";
import { buildK3sArgs, disabledComponents, K3sArgsError } from "./args.ts";
import { clusterDnsIp, k3sLayout } from "./layout.ts";

function config(raw: Record<string, unknown>): Config {
  const issues: { path: string }[] = [];
  const c = validate(configSpec, raw, "", issues as never) as Config;
  assert.deepEqual(issues, [], "test config must be valid");
  return c;
}

const DEFAULT_SERVER = [
  "server",
  "--data-dir=/var/lib/k8shost/k3s",
  "--node-name=node-a",
  "--write-kubeconfig=/var/lib/k8shost/kubeconfig.yaml",
  "--write-kubeconfig-mode=0600",
  "--disable=servicelb,traefik,local-storage,coredns",
  "--flannel-backend=none",
  "--disable-network-policy",
  "--cluster-domain=cluster.local",
  "--service-cidr=10.96.0.0/12",
  "--cluster-cidr=10.244.0.0/16",
  "--service-node-port-range=30000-32767",
  "--cluster-dns=10.96.0.10",
  "--bind-address=0.0.0.0",
  "--kubelet-arg=root-dir=/var/lib/kubelet",
  "--kube-apiserver-arg=authentication-token-webhook-config-file=/var/lib/k8shost/iam/webhook-kubeconfig.yaml",
  "--kube-apiserver-arg=authentication-token-webhook-version=v1",
  "--kube-apiserver-arg=authentication-token-webhook-cache-ttl=2m",
  "--kube-apiserver-arg=audit-policy-file=/var/lib/k8shost/audit-policy.yaml",
  "--kube-apiserver-arg=audit-log-path=/var/log/k8shost/audit.log",
  "--kube-apiserver-arg=audit-log-maxage=30",
  "--kube-apiserver-arg=audit-log-maxbackup=10",
  "--kube-apiserver-arg=audit-log-maxsize=100",
];

interface Case {
  name: string;
  raw: Record<string, unknown>;
  role: "server" | "agent";
  disableAgent?: boolean;
  argv: string[];
}

const CASES: Case[] = [
  { name: "server defaults (single sqlite server)", raw: {}, role: "server", argv: DEFAULT_SERVER },
  {
    name: "server, spec single-server example",
    role: "server",
    raw: {
      dataDir: "/srv/k8shost/",
      networking: { advertiseAddress: "192.168.1.100", tlsSans: ["k8s-api.example.com"] },
      flashdns: { enable: false },
      iam: { webhook: { cacheTTL: "90s" } },
      auditLog: { enable: false },
      tokenFile: "/run/keys/k3s-token",
    },
    argv: [
      "server",
      "--data-dir=/srv/k8shost/k3s",
      "--node-name=node-a",
      "--write-kubeconfig=/srv/k8shost/kubeconfig.yaml",
      "--write-kubeconfig-mode=0600",
      "--token-file=/run/keys/k3s-token",
      "--disable=servicelb,traefik,local-storage",
      "--flannel-backend=none",
      "--disable-network-policy",
      "--cluster-domain=cluster.local",
      "--service-cidr=10.96.0.0/12",
      "--cluster-cidr=10.244.0.0/16",
      "--service-node-port-range=30000-32767",
      "--cluster-dns=10.96.0.10",
      "--bind-address=0.0.0.0",
      "--advertise-address=192.168.1.100",
      "--tls-san=k8s-api.example.com",
      "--kubelet-arg=root-dir=/var/lib/kubelet",
      "--kube-apiserver-arg=authentication-token-webhook-config-file=/srv/k8shost/iam/webhook-kubeconfig.yaml",
      "--kube-apiserver-arg=authentication-token-webhook-version=v1",
      "--kube-apiserver-arg=authentication-token-webhook-cache-ttl=90s",
    ],
  },
  {
    name: "HA first server: etcd + cluster-init, two SANs, custom networking, no IAM",
    role: "server",
    raw: {
      datastore: "etcd",
      clusterInit: true,
      tokenFile: "/run/keys/token",
      disableComponents: ["traefik", "metrics-server"],
      fiberlb: { enable: false },
      flashdns: { enable: false },
      iam: { enable: false },
      networking: {
        serviceCIDR: "10.43.0.0/16",
        clusterCIDR: "10.42.0.0/16",
        clusterDomain: "k8s.internal",
        nodePortRange: "31000-31999",
        clusterDNS: "10.43.0.53",
        bindAddress: "192.168.1.101",
        nodeIP: "192.168.1.101",
        tlsSans: ["k8s-api-lb.example.com", "k8s-api.example.com"],
      },
      auditLog: { path: "/var/log/audit/k8s.log", maxAge: 7, maxBackup: 3, maxSize: 50 },
      k3s: { kubeletDir: "/srv/kubelet", extraArgs: ["--etcd-snapshot-retention=10", "--debug"] },
    },
    argv: [
      "server",
      "--data-dir=/var/lib/k8shost/k3s",
      "--node-name=node-a",
      "--write-kubeconfig=/var/lib/k8shost/kubeconfig.yaml",
      "--write-kubeconfig-mode=0600",
      "--cluster-init",
      "--token-file=/run/keys/token",
      "--disable=traefik,metrics-server",
      "--flannel-backend=none",
      "--disable-network-policy",
      "--cluster-domain=k8s.internal",
      "--service-cidr=10.43.0.0/16",
      "--cluster-cidr=10.42.0.0/16",
      "--service-node-port-range=31000-31999",
      "--cluster-dns=10.43.0.53",
      "--bind-address=192.168.1.101",
      "--node-ip=192.168.1.101",
      "--tls-san=k8s-api-lb.example.com",
      "--tls-san=k8s-api.example.com",
      "--kubelet-arg=root-dir=/srv/kubelet",
      "--kube-apiserver-arg=audit-policy-file=/var/lib/k8shost/audit-policy.yaml",
      "--kube-apiserver-arg=audit-log-path=/var/log/audit/k8s.log",
      "--kube-apiserver-arg=audit-log-maxage=7",
      "--kube-apiserver-arg=audit-log-maxbackup=3",
      "--kube-apiserver-arg=audit-log-maxsize=50",
      "--etcd-snapshot-retention=10",
      "--debug",
    ],
  },
  {
    name: "HA joining server: etcd + --server, agentless",
    role: "server",
    disableAgent: true,
    raw: {
      datastore: "etcd",
      serverUrl: "https://k8s-api-lb.internal:6443",
      tokenFile: "/run/keys/token",
      iam: { enable: false },
      auditLog: { enable: false },
      networking: { serviceCIDR: "fd00:10:96::/108", clusterCIDR: "fd00:10:244::/56" },
    },
    argv: [
      "server",
      "--data-dir=/var/lib/k8shost/k3s",
      "--node-name=node-a",
      "--write-kubeconfig=/var/lib/k8shost/kubeconfig.yaml",
      "--write-kubeconfig-mode=0600",
      "--server=https://k8s-api-lb.internal:6443",
      "--token-file=/run/keys/token",
      "--disable=servicelb,traefik,local-storage,coredns",
      "--flannel-backend=none",
      "--disable-network-policy",
      "--disable-agent",
      "--cluster-domain=cluster.local",
      "--service-cidr=fd00:10:96::/108",
      "--cluster-cidr=fd00:10:244::/56",
      "--service-node-port-range=30000-32767",
      "--cluster-dns=fd00:10:96::a",
      "--bind-address=0.0.0.0",
      "--kubelet-arg=root-dir=/var/lib/kubelet",
    ],
  },
  {
    name: "agent: server URL, token file, node IP; no server-only flags",
    role: "agent",
    raw: {
      mode: "agent",
      serverUrl: "https://k8s-api-lb.internal:6443",
      tokenFile: "/run/keys/token",
      networking: { nodeIP: "192.168.1.120", tlsSans: ["ignored.example.com"] },
      k3s: { extraArgs: ["--node-label=zone=a"] },
    },
    argv: [
      "agent",
      "--data-dir=/var/lib/k8shost/k3s",
      "--node-name=node-a",
      "--server=https://k8s-api-lb.internal:6443",
      "--token-file=/run/keys/token",
      "--node-ip=192.168.1.120",
      "--kubelet-arg=root-dir=/var/lib/kubelet",
      "--node-label=zone=a",
    ],
  },
];

for (const c of CASES) {
  Deno.test(`k3s argv: ${c.name}`, () => {
    const cmd = buildK3sArgs(config(c.raw), {
      role: c.role,
      nodeName: "node-a",
      disableAgent: c.disableAgent,
    });
    assert.deepEqual(cmd.argv, c.argv);
  });
}

Deno.test("k3s argv: flannel is never passed to --disable, and a note says why", () => {
  const cmd = buildK3sArgs(config({ disableComponents: ["flannel", "traefik"] }), {
    role: "server",
    nodeName: "n",
  });
  const disable = cmd.argv.filter((a) => a.startsWith("--disable="));
  assert.deepEqual(disable, ["--disable=traefik,servicelb,coredns"]);
  assert.ok(cmd.argv.includes("--flannel-backend=none"));
  assert.equal(cmd.notes.length, 1);
  assert.match(cmd.notes[0], /--flannel-backend=none/);
  const quiet = buildK3sArgs(config({ disableComponents: ["traefik"] }), {
    role: "server",
    nodeName: "n",
  });
  assert.deepEqual(quiet.notes, []);
});

Deno.test("k3s argv: nothing to disable leaves out --disable", () => {
  const c = config({
    disableComponents: [],
    fiberlb: { enable: false },
    flashdns: { enable: false },
  });
  assert.deepEqual(disabledComponents(c), []);
  const argv = buildK3sArgs(c, { role: "server", nodeName: "n" }).argv;
  assert.equal(argv.some((a) => a.startsWith("--disable=")), false);
});

Deno.test("k3s argv: inconsistent cluster settings are refused with every problem named", () => {
  const cases: [Record<string, unknown>, "server" | "agent", string[]][] = [
    [{ mode: "agent" }, "agent", [
      "serverUrl is required for an agent",
      "tokenFile is required for an agent",
    ]],
    [{ datastore: "etcd" }, "server", [
      "datastore etcd needs clusterInit (first server) or serverUrl (joining server)",
    ]],
    [{ clusterInit: true }, "server", [
      "clusterInit/serverUrl need datastore etcd (sqlite is single-server)",
    ]],
    [
      { datastore: "etcd", clusterInit: true, serverUrl: "https://a:6443" },
      "server",
      ["clusterInit and serverUrl exclude each other"],
    ],
  ];
  for (const [raw, role, problems] of cases) {
    assert.throws(
      () => buildK3sArgs(config(raw), { role, nodeName: "n" }),
      (e: unknown) =>
        e instanceof K3sArgsError && JSON.stringify(e.problems) === JSON.stringify(problems),
      JSON.stringify(raw),
    );
  }
  assert.throws(
    () => buildK3sArgs(config({}), { role: "server", nodeName: "" }),
    /node name is empty/,
  );
});

Deno.test("k3s layout: kubeconfig per role, CNI dirs follow the k3s data dir unless set", () => {
  const c = config({ dataDir: "/d/" });
  assert.deepEqual(k3sLayout(c, "server"), {
    k3sDataDir: "/d/k3s",
    kubeconfig: "/d/kubeconfig.yaml",
    cniBinDir: "/d/k3s/data/cni",
    cniConfDir: "/d/k3s/agent/etc/cni/net.d",
    kubeletDir: "/var/lib/kubelet",
    auditPolicyFile: "/d/audit-policy.yaml",
    webhookConfigFile: "/d/iam/webhook-kubeconfig.yaml",
    pidFile: "/d/k3s.pid",
  });
  assert.equal(k3sLayout(c, "agent").kubeconfig, "/d/k3s/agent/kubelet.kubeconfig");
  const set = config({ k3s: { cniBinDir: "/opt/cni/bin", cniConfDir: "/etc/cni/net.d" } });
  assert.equal(k3sLayout(set).cniBinDir, "/opt/cni/bin");
  assert.equal(k3sLayout(set).cniConfDir, "/etc/cni/net.d");
});

Deno.test("k3s layout: the webhook config path is the one the IAM part writes", async () => {
  const { webhookKubeconfigPath } = await import("../iam/mod.ts");
  const c = config({ dataDir: "/srv/k8shost" });
  assert.equal(k3sLayout(c).webhookConfigFile, webhookKubeconfigPath(c));
});

Deno.test("cluster DNS: explicit value, else the 10th address of the service CIDR", () => {
  assert.equal(clusterDnsIp(config({})), "10.96.0.10");
  assert.equal(clusterDnsIp(config({ networking: { serviceCIDR: "10.43.0.0/16" } })), "10.43.0.10");
  assert.equal(clusterDnsIp(config({ networking: { clusterDNS: "10.96.0.53" } })), "10.96.0.53");
});
