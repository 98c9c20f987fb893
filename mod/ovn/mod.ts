/**
 * PrismNET's OVN mode: the northbound topology (cluster router, a switch per namespace, a port
 * per pod), the node's Open_vSwitch side (chassis settings, br-int, veth ports bound by
 * iface-id) and the HostAttacher that plugs both into the CNI node daemon. See docs/ovn.md.
 */
import type { Config } from "../config/spec.ts";
import type { OvnNodeOptions } from "./attacher.ts";

export { OvnAttacher, type OvnNodeOptions } from "./attacher.ts";
export { disableTxOffload, EthtoolError, txChecksumming } from "./ethtool.ts";
export * from "./names.ts";
export { type ChassisConfig, LocalOvs } from "./ovs.ts";
export {
  type NamespaceNetwork,
  OvnTopology,
  type PodPort,
  type Subnet,
  SubnetConflictError,
  SwitchMissingError,
} from "./topology.ts";

/** OVN mode is on when a northbound DB is configured. */
export const ovnEnabled = (config: Config): boolean => config.prismnet.ovn.northbound !== "";

/** Node options of OVN mode from the validated config; undefined in standalone mode. */
export function ovnNodeOptions(config: Config, node: string): OvnNodeOptions | undefined {
  const o = config.prismnet.ovn;
  if (!ovnEnabled(config)) return undefined;
  return {
    northbound: o.northbound,
    southbound: o.southbound,
    ovsdb: o.ovsdb,
    bridge: o.integrationBridge,
    encapType: o.encapType,
    encapIp: o.encapIp || config.networking.nodeIP,
    systemId: node,
    datapathType: o.datapathType,
    portUpTimeoutMs: o.portUpTimeout,
    configureChassis: o.configureChassis,
    node,
  };
}
