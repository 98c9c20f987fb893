import { bool, duration, int, obj, path, str } from "../schema.ts";
import { serviceClientFields } from "./common.ts";

export const prismnetSection = obj("PrismNET pod networking (CNI).", {
  enable: bool("Install the prismnet CNI plugin and run the node network daemon.", true),
  ...serviceClientFields("PrismNET", "prismnet-server:5000"),
  mtu: int("Pod interface MTU.", { default: 1400, min: 576, max: 65535 }),
  bridge: str("Linux bridge holding the pod gateway (standalone mode).", {
    default: "prismnet0",
    pattern: /^[A-Za-z0-9_.-]{1,15}$/,
    patternDoc: "an interface name of at most 15 characters",
  }),
  namespaceSubnetPrefix: int("Prefix length of each namespace's subnet carved from clusterCIDR.", {
    default: 24,
    min: 8,
    max: 126,
  }),
  socket: path(
    "Unix socket of the node daemon that the CNI plugin talks to.",
    "/run/k8shost/prismnet.sock",
  ),
  cniBinDir: path("Directory for the prismnet symlink (default: k3s.cniBinDir)."),
  cniConfDir: path("Directory for 10-prismnet.conflist (default: k3s.cniConfDir)."),
  sweepInterval: duration("How often leaked leases and links are swept.", "5m", 1000),
  gcGrace: duration(
    "Attachments and leases younger than this are never released by GC or the sweep (an ADD may be racing).",
    "1m",
    0,
  ),
  pluginTimeout: duration(
    "How long the CNI plugin waits for the node daemon before failing with code 11 (try again later).",
    "60s",
    1000,
  ),
  chainPortmap: bool(
    "Chain the `portmap` plugin (hostPort support) after prismnet in the conflist.",
    true,
  ),
  ovn: obj("OVN mode (empty northbound: standalone Linux bridge).", {
    northbound: str("OVN NB DB (`tcp:host:6641` or `unix:/path`).", { default: "" }),
    southbound: str("OVN SB DB (`tcp:host:6642` or `unix:/path`).", { default: "" }),
    encapType: str("Tunnel encapsulation.", {
      default: "geneve",
      oneOf: ["geneve", "vxlan", "stt"],
    }),
    encapIp: str("Tunnel endpoint IP of this node (default: node IP).", { default: "" }),
    integrationBridge: str("OVS integration bridge.", { default: "br-int" }),
    ovsdb: str("Local ovsdb-server socket.", { default: "unix:/var/run/openvswitch/db.sock" }),
    datapathType: str(
      "Datapath of the integration bridge: `system` (kernel module) or `netdev` (userspace; TX checksum offload is then turned off on pod veths).",
      { default: "system", oneOf: ["system", "netdev"] },
    ),
    configureChassis: bool(
      "Write ovn-remote, ovn-encap-type/ip, ovn-bridge and system-id (the node name) into the local Open_vSwitch table for ovn-controller.",
      true,
    ),
    portUpTimeout: duration(
      "How long CNI ADD waits for the pod's logical switch port to come up (ovn-controller bound it).",
      "30s",
      1000,
    ),
  }),
});
