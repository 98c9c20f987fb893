import { bool, duration, int, obj, path, str } from "../schema.ts";
import { serviceClientFields } from "./common.ts";

export const lightningstorSection = obj("LightningStor CSI volumes.", {
  enable: bool("Run the CSI driver (controller on servers, node plugin on every node).", true),
  ...serviceClientFields("LightningStor", "lightningstor-server:8000"),
  driverName: str("CSI driver name.", {
    default: "stor.plasmacloud.io",
    pattern: /^(?=.{1,63}$)[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/,
    patternDoc: "a DNS-style name of at most 63 characters, e.g. stor.plasmacloud.io",
  }),
  socket: path(
    "CSI unix socket of the node plugin (kubelet dials it; registered through plugins_registry).",
    "/var/lib/kubelet/plugins/stor.plasmacloud.io/csi.sock",
  ),
  controllerSocket: path(
    "CSI unix socket of the controller service on servers (empty: `<dataDir>/lightningstor/csi-controller.sock`).",
  ),
  embeddedListen: str(
    "Where the embedded LightningStor serves when `endpoint` is empty (`unix:///path` or `host:port`; empty: `unix://<dataDir>/lightningstor/volume.sock`).",
    { default: "" },
  ),
  maxVolumesPerNode: int("Volumes one node may attach.", { default: 64, min: 1 }),
  topologyZone: str("Zone reported in NodeGetInfo topology (empty: none).", { default: "" }),
  defaultFsType: str("Filesystem made on a mount volume when its StorageClass names none.", {
    default: "ext4",
    oneOf: ["ext4", "xfs"],
  }),
  defaultVolumeSize: int("Bytes given to a CreateVolume without a capacity range (1 GiB).", {
    default: 1024 * 1024 * 1024,
    min: 1024 * 1024,
  }),
  maxVolumeSize: int("Largest volume the embedded LightningStor creates, in bytes (16 TiB).", {
    default: 16 * 1024 ** 4,
    min: 1024 * 1024,
  }),
  forceDetachAfter: duration("Force-detach volumes from a deleted node after this long.", "6m"),
  resync: duration("Full resync period of the provisioner, attacher and resizer.", "5m", 1000),
});
