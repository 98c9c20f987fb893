import { bool, duration, int, list, obj, str } from "../schema.ts";
import { serviceClientFields } from "./common.ts";

export const flashdnsSection = obj("FlashDNS service discovery.", {
  enable: bool("Run the DNS controller.", true),
  ...serviceClientFields("FlashDNS", "flashdns-server:6000"),
  recordTTL: int("TTL of every record, seconds.", { default: 30, min: 1, max: 86400 }),
  listen: str("Embedded DNS server address (UDP and TCP).", {
    default: "0.0.0.0:53",
    pattern: /^[^\s]+:\d{1,5}$/,
    patternDoc: "host:port such as 0.0.0.0:53",
  }),
  upstreams: list("Resolvers for names outside the cluster domain (`ip` or `ip:port`).", str("resolver")),
  resync: duration("Full resync period repairing drift.", "5m", 1000),
});
