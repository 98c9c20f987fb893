import { bool, duration, int, list, obj, str } from "../schema.ts";
import { serviceClientFields } from "./common.ts";

export const fiberlbSection = obj("FiberLB LoadBalancer Services.", {
  enable: bool("Run the LoadBalancer controller.", true),
  ...serviceClientFields("FiberLB", "fiberlb-server:7000"),
  externalIpPool: str(
    "Default external IP pool (`default`): CIDRs, `first-last` ranges or single addresses, comma-separated, IPv4 and/or IPv6.",
    { default: "" },
  ),
  pools: list(
    "Named extra pools, `name=cidr-or-range[,cidr-or-range...]`; chosen by the Service annotation or the namespace's `fiberlb.plasmacloud.io/ip-pool` annotation/label.",
    str("pool"),
  ),
  loadBalancerClass: str("The spec.loadBalancerClass this controller serves (plus unset).", {
    default: "plasmacloud.io/fiberlb",
  }),
  memberMode: str("Pool members: node IP + nodePort, or pod IP + targetPort.", {
    default: "pod",
    oneOf: ["node", "pod"],
  }),
  endpointDebounce: duration(
    "Coalesce endpoint churn for this long before a pool update.",
    "200ms",
  ),
  clusterName: str(
    "This cluster's name in FiberLB load balancer names (`k8s.<clusterName>.<ns>.<svc>`) and owner labels; clusters sharing one FiberLB must differ.",
    {
      default: "default",
      pattern: /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
      patternDoc: "a lower-case DNS label such as prod-eu1",
    },
  ),
  workers: int("Services reconciled at once.", { default: 8, min: 1, max: 64 }),
  resync: duration(
    "Full resync period: relists FiberLB, repairs drift, garbage-collects orphans.",
    "5m",
    1000,
  ),
  grpcListen: str(
    "Embedded FiberLB gRPC address (`host:port` or `unix:///path`); empty: `unix://<dataDir>/fiberlb/fiberlb.sock`.",
    {
      default: "",
      pattern: /^(|unix:\/\/\/\S+|[^\s]+:\d{1,5})$/,
      patternDoc: "host:port or unix:///path",
    },
  ),
  manageAddresses: bool(
    "Embedded FiberLB: add external IPs that are not on a local interface to the dummy interface `fiberlb.interface`.",
    true,
  ),
  interface: str("Embedded FiberLB: the dummy interface holding external IPs.", {
    default: "fiberlb0",
    pattern: /^[A-Za-z0-9_.-]{1,15}$/,
    patternDoc: "a Linux interface name of at most 15 characters",
  }),
});
