import { bool, cidr, duration, int, ip, list, obj, path, str } from "../schema.ts";

export const coreFields = {
  mode: str("Run as the control plane (`server`) or a worker (`agent`).", {
    default: "server",
    oneOf: ["server", "agent"],
  }),
  dataDir: path(
    "State directory: k3s data, embedded services' state, generated keys.",
    "/var/lib/k8shost",
  ),
  nodeName: str("This node's name (default: the host name).", {
    default: "",
    pattern: /^(|[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)$/,
    patternDoc: "a lowercase DNS name such as node-1",
  }),
  datastore: str("k3s datastore: embedded `sqlite` (one server) or `etcd` (HA).", {
    default: "sqlite",
    oneOf: ["sqlite", "etcd"],
  }),
  clusterInit: bool("First server of an HA cluster: start embedded etcd (`--cluster-init`)."),
  serverUrl: str("URL of an existing server to join (`--server`); required for agents.", {
    default: "",
    pattern: /^(|https:\/\/[^\s/]+(:\d+)?\/?)$/,
    patternDoc: "an https:// URL such as https://k8s-api-lb.internal:6443",
  }),
  tokenFile: path("File holding the cluster join token (`--token-file`).", "", { secret: true }),
  disableComponents: list(
    "k3s packaged components to disable.",
    str("component", {
      oneOf: ["servicelb", "traefik", "flannel", "local-storage", "coredns", "metrics-server"],
    }),
    ["servicelb", "traefik", "flannel", "local-storage"],
  ),
  networking: obj("Cluster networking.", {
    serviceCIDR: cidr("CIDR for Service ClusterIPs.", "10.96.0.0/12"),
    clusterCIDR: cidr("CIDR for pod IPs.", "10.244.0.0/16"),
    clusterDomain: str("Cluster DNS domain.", {
      default: "cluster.local",
      pattern:
        /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/,
      patternDoc: "a DNS domain such as cluster.local",
    }),
    clusterDNS: ip(
      "IP of the cluster DNS service given to kubelet (default: 10th IP of serviceCIDR).",
    ),
    nodePortRange: str("NodePort range.", {
      default: "30000-32767",
      pattern: /^\d{1,5}-\d{1,5}$/,
      patternDoc: "a port range such as 30000-32767",
    }),
    bindAddress: ip("Address the API server binds.", "0.0.0.0"),
    advertiseAddress: ip("Address the API server advertises (default: k3s's choice)."),
    nodeIP: ip("This node's IP (`--node-ip`; default: k3s's choice)."),
    tlsSans: list(
      "Extra names/IPs in the API server certificate (`--tls-san`).",
      str("name or IP"),
    ),
  }),
  auditLog: obj("API server audit log.", {
    enable: bool("Write an audit log.", true),
    path: path("Audit log file.", "/var/log/k8shost/audit.log"),
    maxAge: int("Days to keep old audit logs.", { default: 30, min: 0 }),
    maxBackup: int("Number of old audit logs to keep.", { default: 10, min: 0 }),
    maxSize: int("Megabytes before an audit log is rotated.", { default: 100, min: 1 }),
  }),
  k3s: obj("The supervised k3s child.", {
    bin: str("k3s executable (name on PATH or absolute path).", { default: "k3s" }),
    extraArgs: list("Extra arguments appended to the k3s command line.", str("argument")),
    kubeletDir: path("kubelet root dir.", "/var/lib/kubelet"),
    cniBinDir: path(
      "Where containerd looks for CNI plugins. Empty: `<dataDir>/k3s/data/cni`, where k3s " +
        "(>= 1.31, `--flannel-backend=none`) points containerd; k3s has no flag to move it.",
    ),
    cniConfDir: path(
      "Where containerd reads CNI configs. Empty: `<dataDir>/k3s/agent/etc/cni/net.d`, where " +
        "k3s points containerd; k3s has no flag to move it.",
    ),
    readyTimeout: duration("How long to wait for k3s to become ready before failing.", "5m", 1000),
    stopGrace: duration("Grace period between SIGTERM and SIGKILL for k3s.", "30s", 0),
    restartBackoff: duration("First restart delay after a crash (doubles per crash).", "1s", 0),
    restartBackoffMax: duration("Largest restart delay.", "1m", 0),
    crashLoopLimit: int("Crashes within crashLoopWindow after which k8shost gives up and exits.", {
      default: 5,
      min: 1,
    }),
    crashLoopWindow: duration("Window for crashLoopLimit.", "10m", 1000),
  }),
  health: obj("Loopback health and metrics endpoint.", {
    listen: str("host:port for /healthz, /readyz and /metrics; empty disables.", {
      default: "127.0.0.1:10258",
      pattern: /^(|[^\s]+:\d{1,5})$/,
      patternDoc: "host:port such as 127.0.0.1:10258",
    }),
  }),
  log: obj("Logging.", {
    level: str("Minimum level.", { default: "info", oneOf: ["debug", "info", "warn", "error"] }),
    format: str("Line format.", { default: "json", oneOf: ["json", "logfmt"] }),
  }),
};
