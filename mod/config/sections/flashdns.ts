import { bool, cidr, duration, int, list, obj, str } from "../schema.ts";
import { serviceClientFields } from "./common.ts";

export const flashdnsSection = obj("FlashDNS service discovery.", {
  enable: bool(
    "Run the DNS controller (and, with no endpoint, the embedded FlashDNS that serves the cluster domain; k3s's CoreDNS is then disabled).",
    true,
  ),
  ...serviceClientFields("FlashDNS", "flashdns-server:6000"),
  recordTTL: int("TTL of every record, seconds.", { default: 30, min: 1, max: 86400 }),
  clusterName: str(
    "This cluster's name in the owner label (`owner=k8shost/<clusterName>`); clusters sharing one FlashDNS must differ.",
    {
      default: "default",
      pattern: /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/,
      patternDoc: "a lower-case name such as prod-eu1",
    },
  ),
  listen: str("Embedded DNS server address (UDP and TCP).", {
    default: "0.0.0.0:53",
    pattern: /^[^\s]+:\d{1,5}$/,
    patternDoc: "host:port such as 0.0.0.0:53",
  }),
  grpcListen: str(
    "Embedded FlashDNS gRPC address (`host:port` or `unix:///path`); empty: `unix://<dataDir>/flashdns/grpc.sock`.",
    {
      default: "",
      pattern: /^(|unix:\/\/\/\S+|[^\s]+:\d{1,5})$/,
      patternDoc: "host:port or unix:///path",
    },
  ),
  upstreams: list(
    "Resolvers for names outside the cluster domain (`ip` or `ip:port`).",
    str("resolver"),
  ),
  reverseCIDRs: list(
    "Extra CIDRs (e.g. the IPv6 service and pod ranges of a dual-stack cluster) whose reverse zones the embedded server answers, besides networking.serviceCIDR and clusterCIDR.",
    cidr("CIDR"),
  ),
  resync: duration("Full resync period repairing drift.", "5m", 1000),
  batchSize: int("Record sets per FlashDNS batch call.", { default: 1000, min: 1, max: 5000 }),
  flushDelay: duration(
    "Coalesce object changes for this long before one diff-and-batch flush.",
    "20ms",
  ),
});
