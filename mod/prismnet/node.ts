/**
 * The node network daemon assembled: PrismNET client (to the configured endpoint, or to the
 * embedded service it starts on a unix socket), the host attacher, the attachment records, the
 * CNI socket, the periodic leak sweep, and the CNI install.
 */
import type { Config } from "../config/spec.ts";
import { clusterDnsIp, k3sLayout } from "../k3s/layout.ts";
import { clientOptionsFromSection } from "../grpc/section.ts";
import type { Logger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import { AttachmentStore } from "./attachments.ts";
import { SocketServer } from "./daemon.ts";
import { LinuxBridgeAttacher } from "./dataplane/bridge.ts";
import type { HostAttacher } from "./dataplane/types.ts";
import { CniHandler, type Tenant } from "./handler/mod.ts";
import { install, type InstallResult } from "./install.ts";
import { createIpamClient, type Ipam } from "./ipam/client.ts";
import { type EmbeddedPrismnet, startEmbeddedPrismnet } from "./ipam/service.ts";
import { KeyedMutex } from "./lock.ts";
import { type RepairReport, repairWithReport } from "./reconcile.ts";
import { noTenant } from "./tenant.ts";
import { OvnAttacher, type OvnNodeOptions, ovnNodeOptions } from "../ovn/mod.ts";

export interface NodeNetworkOptions {
  /** State root for prismnet: `<dataDir>/prismnet`. */
  stateDir: string;
  socket: string;
  node: string;
  bridge: string;
  mtu: number;
  clusterCidr: string;
  namespaceSubnetPrefix: number;
  /** PrismNET endpoint; empty starts the embedded service. */
  endpoint: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  tokenFile?: string;
  insecure?: boolean;
  callTimeoutMs: number;
  sweepIntervalMs: number;
  gcGraceMs: number;
  dnsServers?: string[];
  /** Where to install the conflist and plugin link; undefined skips the install. */
  install?: {
    confDir: string;
    binDir: string;
    chainPortmap: boolean;
    pluginTimeoutMs: number;
    binary?: string;
  };
  tenantOf?: (namespace: string) => Promise<Tenant>;
  /** Replaces the Linux bridge (OVN mode plugs in here). */
  attacher?: HostAttacher;
  /** OVN mode (prismnet.ovn.northbound set): pods on br-int with a logical port each. */
  ovn?: OvnNodeOptions;
}

/** Node daemon options from the validated config. */
export function nodeNetworkOptions(config: Config, node: string): NodeNetworkOptions {
  const p = config.prismnet;
  return {
    stateDir: `${config.dataDir}/prismnet`,
    socket: p.socket,
    node,
    bridge: p.bridge,
    mtu: p.mtu,
    clusterCidr: config.networking.clusterCIDR,
    namespaceSubnetPrefix: p.namespaceSubnetPrefix,
    endpoint: p.endpoint,
    caFile: p.caFile || undefined,
    certFile: p.certFile || undefined,
    keyFile: p.keyFile || undefined,
    tokenFile: p.tokenFile || undefined,
    insecure: p.insecure,
    callTimeoutMs: p.timeout,
    sweepIntervalMs: p.sweepInterval,
    gcGraceMs: p.gcGrace,
    dnsServers: [clusterDnsIp(config)],
    ovn: ovnNodeOptions(config, node),
    install: {
      confDir: p.cniConfDir || k3sLayout(config).cniConfDir,
      binDir: p.cniBinDir || k3sLayout(config).cniBinDir,
      chainPortmap: p.chainPortmap,
      pluginTimeoutMs: p.pluginTimeout,
    },
  };
}

export class NodeNetwork {
  readonly locks = new KeyedMutex();
  handler?: CniHandler;
  embedded?: EmbeddedPrismnet;
  installed?: InstallResult;
  private ipam?: Ipam;
  private ovnAttacher?: OvnAttacher;
  private server?: SocketServer;
  private timer?: ReturnType<typeof setInterval>;
  private sweeping?: Promise<unknown>;
  private serving = false;

  constructor(
    readonly opts: NodeNetworkOptions,
    private readonly log: Logger,
    private readonly metrics?: Registry,
  ) {}

  async start(): Promise<void> {
    const o = this.opts;
    let endpoint = o.endpoint;
    if (!endpoint) {
      const sock = `${o.stateDir}/ipam.sock`;
      this.embedded = await startEmbeddedPrismnet({
        dir: `${o.stateDir}/ipam`,
        address: `unix://${sock}`,
        clusterCidr: o.clusterCidr,
        namespaceSubnetPrefix: o.namespaceSubnetPrefix,
        dnsServers: o.dnsServers,
      });
      endpoint = this.embedded.server.target;
      this.log.info("embedded PrismNET IPAM serving", { endpoint, clusterCidr: o.clusterCidr });
    }
    this.ipam = createIpamClient({
      ...await clientOptionsFromSection("prismnet", {
        endpoint,
        caFile: o.caFile ?? "",
        certFile: o.certFile ?? "",
        keyFile: o.keyFile ?? "",
        tokenFile: o.tokenFile ?? "",
        insecure: o.insecure ?? false,
        timeout: o.callTimeoutMs,
      }),
      timeoutMs: o.callTimeoutMs,
    });
    if (!o.attacher && o.ovn) this.ovnAttacher = new OvnAttacher(o.ovn, this.log.child("ovn"));
    const attacher = o.attacher ?? this.ovnAttacher ?? new LinuxBridgeAttacher(o.bridge, o.mtu);
    await attacher.ensureReady();
    this.handler = new CniHandler({
      ipam: this.ipam,
      attacher,
      records: await AttachmentStore.open(`${o.stateDir}/attachments`),
      locks: this.locks,
      node: o.node,
      mtu: o.mtu,
      log: this.log,
      tenantOf: o.tenantOf ?? noTenant,
      gcGraceMs: o.gcGraceMs,
    });
    this.metrics?.gauge("prismnet_attachments", "Pod attachments on this node")
      .collect({}, () => this.handler?.deps.records.list().length ?? 0);
    this.server = new SocketServer(o.socket, this.handler, this.log, this.metrics);
    await this.server.start();
    this.serving = true;
    if (o.install) {
      this.installed = await install({ ...o.install, socket: o.socket, mtu: o.mtu });
      if (this.installed.shadowedBy.length) {
        this.log.warn("other CNI configs sort before prismnet's; containerd uses the first", {
          confDir: o.install.confDir,
          files: this.installed.shadowedBy,
        });
      }
      this.log.info("prismnet CNI installed", {
        conflist: this.installed.conflistPath,
        plugin: this.installed.linkPath,
      });
    }
    this.sweeping = this.sweep().catch((e) =>
      this.log.warn("initial sweep failed", { error: String(e) })
    );
    this.timer = setInterval(() => {
      this.sweeping = this.sweep().catch((e) =>
        this.log.warn("sweep failed", { error: String(e) })
      );
    }, o.sweepIntervalMs);
  }

  /** Releases leases and links of attachments whose network namespace is gone. */
  async sweep(): Promise<RepairReport> {
    if (!this.handler) throw new Error("node network is not started");
    return await repairWithReport(this.handler, { kind: "sweep" });
  }

  ready(): true | string {
    return this.serving ? true : "prismnet node daemon is not serving";
  }

  async stop(): Promise<void> {
    this.serving = false;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sweeping;
    await this.server?.stop();
    this.ipam?.close();
    await this.embedded?.stop();
    this.ovnAttacher?.close();
    this.ovnAttacher = undefined;
    this.server = undefined;
    this.ipam = undefined;
    this.embedded = undefined;
  }
}
