import { bool, duration, int, obj, path, str } from "../schema.ts";
import { serviceClientFields } from "./common.ts";

export const lightningstorSection = obj("LightningStor CSI volumes.", {
  enable: bool("Run the CSI driver (controller on servers, node plugin on every node).", true),
  ...serviceClientFields("LightningStor", "lightningstor-server:8000"),
  driverName: str("CSI driver name.", { default: "stor.plasmacloud.io" }),
  socket: path("CSI unix socket.", "/var/lib/kubelet/plugins/stor.plasmacloud.io/csi.sock"),
  maxVolumesPerNode: int("Volumes one node may attach.", { default: 64, min: 1 }),
  topologyZone: str("Zone reported in NodeGetInfo topology (empty: none).", { default: "" }),
  forceDetachAfter: duration("Force-detach volumes from a deleted node after this long.", "6m"),
});
