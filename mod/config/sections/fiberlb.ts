import { bool, duration, list, obj, str } from "../schema.ts";
import { serviceClientFields } from "./common.ts";

export const fiberlbSection = obj("FiberLB LoadBalancer Services.", {
  enable: bool("Run the LoadBalancer controller.", true),
  ...serviceClientFields("FiberLB", "fiberlb-server:7000"),
  externalIpPool: str("Default external IP pool: CIDR or `first-last` range.", { default: "" }),
  pools: list(
    "Named extra pools, `name=cidr-or-range[,cidr-or-range...]`; chosen by annotation or namespace.",
    str("pool"),
  ),
  loadBalancerClass: str("The spec.loadBalancerClass this controller serves (plus unset).", {
    default: "plasmacloud.io/fiberlb",
  }),
  memberMode: str("Pool members: node IP + nodePort, or pod IP + targetPort.", {
    default: "pod",
    oneOf: ["node", "pod"],
  }),
  endpointDebounce: duration("Coalesce endpoint churn for this long before a pool update.", "200ms"),
});
