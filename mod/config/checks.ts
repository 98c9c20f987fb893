/**
 * Cross-field checks: rules that no single key's schema can express. Each check names the keys
 * it reads and is skipped when one of them already failed its schema, so one mistake yields one
 * message. Add a check by appending to CHECKS (or to the service checks in checks_services.ts).
 */
import { type ConfigIssue, formatDuration } from "./schema.ts";
import type { Config } from "./spec.ts";
import { contains, formatAddress, overlaps, parseCidr, parseIp } from "./net.ts";
import { FILE_CHECKS, SERVICE_CHECKS } from "./checks_services.ts";

export interface Check {
  name: string;
  /** Key paths (or prefixes) the check reads. */
  reads: string[];
  run(config: Config): ConfigIssue[];
}

const NETWORK_CHECKS: Check[] = [
  {
    name: "cidr-network-address",
    reads: ["networking.serviceCIDR", "networking.clusterCIDR"],
    run: (c) =>
      (["serviceCIDR", "clusterCIDR"] as const).flatMap((k) => {
        const n = parseCidr(c.networking[k])!;
        return n.address === n.first ? [] : [{
          path: `networking.${k}`,
          value: c.networking[k],
          expected: `a network address with no host bits set (${networkForm(c.networking[k])})`,
        }];
      }),
  },
  {
    name: "cidr-family-and-overlap",
    reads: ["networking.serviceCIDR", "networking.clusterCIDR"],
    run: ({ networking: n }) => {
      const svc = parseCidr(n.serviceCIDR)!;
      const pods = parseCidr(n.clusterCIDR)!;
      if (svc.family !== pods.family) {
        return [{
          path: "networking.serviceCIDR",
          value: n.serviceCIDR,
          expected: `an ${pods.family} CIDR like networking.clusterCIDR (${n.clusterCIDR})`,
        }];
      }
      return overlaps(svc, pods)
        ? [{
          path: "networking.serviceCIDR",
          value: n.serviceCIDR,
          expected: `a CIDR that does not overlap networking.clusterCIDR (${n.clusterCIDR})`,
        }]
        : [];
    },
  },
  {
    name: "cluster-dns-in-service-cidr",
    reads: ["networking.serviceCIDR", "networking.clusterDNS"],
    run: ({ networking: n }) => {
      if (n.clusterDNS === "") return [];
      const svc = parseCidr(n.serviceCIDR)!;
      const ip = parseIp(n.clusterDNS)!;
      if (contains(svc, ip) && ip.value !== svc.first && ip.value !== svc.last) return [];
      return [{
        path: "networking.clusterDNS",
        value: n.clusterDNS,
        expected: `a host address inside networking.serviceCIDR (${n.serviceCIDR})`,
      }];
    },
  },
  {
    name: "node-port-range",
    reads: ["networking.nodePortRange"],
    run: ({ networking: n }) => {
      const [lo, hi] = n.nodePortRange.split("-").map(Number);
      const at = { path: "networking.nodePortRange", value: n.nodePortRange };
      if (lo < 1 || hi > 65535) return [{ ...at, expected: "ports between 1 and 65535" }];
      if (lo > hi) return [{ ...at, expected: "a range whose first port is not above its last" }];
      return [];
    },
  },
  {
    name: "namespace-subnet-prefix",
    reads: ["networking.clusterCIDR", "prismnet.namespaceSubnetPrefix"],
    run: (c) => {
      const pods = parseCidr(c.networking.clusterCIDR)!;
      const max = pods.family === "IPv4" ? 30 : 126;
      const p = c.prismnet.namespaceSubnetPrefix;
      if (p >= pods.prefix && p <= max) return [];
      return [{
        path: "prismnet.namespaceSubnetPrefix",
        value: p,
        expected:
          `a prefix length between ${pods.prefix} (networking.clusterCIDR ${c.networking.clusterCIDR}) and ${max}`,
      }];
    },
  },
  {
    name: "tls-sans",
    reads: ["networking.tlsSans"],
    run: (c) =>
      c.networking.tlsSans.flatMap((s, i) =>
        parseIp(s) || /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(s) ? [] : [{
          path: `networking.tlsSans[${i}]`,
          value: s,
          expected: "a DNS name or an IP address",
        }]
      ),
  },
];

const CLUSTER_CHECKS: Check[] = [
  {
    name: "agent-server-url",
    reads: ["mode", "serverUrl"],
    run: (c) =>
      c.mode !== "agent" || c.serverUrl !== "" ? [] : [{
        path: "serverUrl",
        value: "",
        expected: "the https:// URL of a server to join (required when mode is agent)",
      }],
  },
  {
    name: "agent-token-file",
    reads: ["mode", "tokenFile"],
    run: (c) =>
      c.mode !== "agent" || c.tokenFile !== "" ? [] : [{
        path: "tokenFile",
        value: "",
        expected: "a file holding the cluster join token (required when mode is agent)",
      }],
  },
  {
    name: "agent-cluster-init",
    reads: ["mode", "clusterInit"],
    run: (c) =>
      c.mode !== "agent" || !c.clusterInit
        ? []
        : [{ path: "clusterInit", value: true, expected: "false when mode is agent" }],
  },
  {
    name: "server-datastore",
    reads: ["mode", "datastore", "clusterInit", "serverUrl", "tokenFile"],
    run: (c) => {
      if (c.mode !== "server") return [];
      if (c.datastore === "sqlite") {
        if (c.clusterInit) {
          return [{
            path: "clusterInit",
            value: true,
            expected:
              "false with datastore sqlite (clusterInit starts embedded etcd: set datastore: etcd)",
          }];
        }
        return c.serverUrl === "" ? [] : [{
          path: "serverUrl",
          value: c.serverUrl,
          expected:
            "empty with datastore sqlite (only an etcd server joins another: set datastore: etcd)",
        }];
      }
      if (c.clusterInit && c.serverUrl !== "") {
        return [{
          path: "clusterInit",
          value: true,
          expected:
            "false when serverUrl is set (a joining server does not initialise the cluster)",
        }];
      }
      if (!c.clusterInit && c.serverUrl === "") {
        return [{
          path: "datastore",
          value: "etcd",
          expected:
            "etcd with clusterInit: true (first server) or serverUrl (joining server), or sqlite",
        }];
      }
      return c.serverUrl !== "" && c.tokenFile === ""
        ? [{
          path: "tokenFile",
          value: "",
          expected: "a file holding the cluster join token (required with serverUrl)",
        }]
        : [];
    },
  },
  {
    name: "restart-backoff",
    reads: ["k3s.restartBackoff", "k3s.restartBackoffMax"],
    run: ({ k3s }) =>
      k3s.restartBackoff <= k3s.restartBackoffMax ? [] : [{
        path: "k3s.restartBackoff",
        value: formatDuration(k3s.restartBackoff),
        expected: `at most k3s.restartBackoffMax (${formatDuration(k3s.restartBackoffMax)})`,
      }],
  },
  {
    name: "audit-log-path",
    reads: ["auditLog"],
    run: ({ auditLog }) =>
      !auditLog.enable || auditLog.path !== "" ? [] : [{
        path: "auditLog.path",
        value: "",
        expected: "an absolute path when auditLog.enable is true",
      }],
  },
];

export const CHECKS: Check[] = [
  ...NETWORK_CHECKS,
  ...CLUSTER_CHECKS,
  ...SERVICE_CHECKS,
  ...FILE_CHECKS,
];

/** Runs every check whose inputs passed the schema. */
export function runChecks(config: Config, badPaths: Set<string>, checks = CHECKS): ConfigIssue[] {
  const bad = [...badPaths];
  const touched = (read: string) =>
    bad.some((p) => p === read || p.startsWith(read + ".") || p.startsWith(read + "["));
  return checks.flatMap((c) => c.reads.some(touched) ? [] : c.run(config));
}

/** The CIDR with its host bits cleared, as the fix to suggest. */
function networkForm(cidr: string): string {
  const n = parseCidr(cidr)!;
  return `${formatAddress(n.family, n.first)}/${n.prefix}`;
}
