/** Builders shared by the pure modules' unit tests. */
import type { KubeObject } from "../kube/api.ts";
import type { Holder } from "./allocations.ts";
import { type LbOptions, parseLbOptions } from "./annotations.ts";
import type { Settings } from "./identity.ts";
import { type IpPool, parseRange } from "./pools.ts";

export const CLASS = "plasmacloud.io/fiberlb";
export const settings: Settings = { clusterId: "c1", loadBalancerClass: CLASS, memberMode: "pod" };

export function svc(
  name: string,
  o: {
    ns?: string;
    annotations?: Record<string, string>;
    spec?: Record<string, unknown>;
    meta?: Record<string, unknown>;
    status?: unknown;
  } = {},
): KubeObject {
  return {
    metadata: {
      name,
      namespace: o.ns ?? "default",
      uid: `uid-${name}`,
      annotations: o.annotations,
      ...o.meta,
    },
    spec: {
      type: "LoadBalancer",
      ports: [{ name: "http", port: 80, protocol: "TCP", targetPort: 8080, nodePort: 30080 }],
      ...o.spec,
    },
    status: o.status,
  };
}

export const opts = (s: KubeObject): LbOptions => parseLbOptions(s).options;
export const pool = (...ranges: string[]): IpPool => ({
  name: "default",
  ranges: ranges.map(parseRange),
});
export const holder = (key: string, o: Partial<Holder> = {}): Holder => ({
  key,
  sharingKey: "",
  tenant: "/",
  ports: ["TCP/80"],
  ...o,
});
