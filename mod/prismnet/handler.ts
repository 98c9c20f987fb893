/**
 * CNI commands as the node daemon carries them out: validate, then ADD (IPAM + veth in
 * parallel, then addressing; rolled back on any failure), DEL (idempotent, also with no state),
 * CHECK (against prevResult), STATUS and GC. Everything arrives as the plugin received it, so
 * all validation happens here too.
 */
import {
  type CniEnv,
  type CniError,
  cniError,
  decodeConfig,
  ERR,
  errorOutput,
  isCniError,
  readEnv,
  replyVersion,
  type WireRequest,
  type WireResponse,
} from "../../cni/spec.ts";
import type { Logger } from "../log/mod.ts";
import type { AttachmentRecord, AttachmentStore } from "./attachments.ts";
import type { HostAttacher } from "./dataplane/types.ts";
import { configurePod, createVeth, DataplaneError, removeVeth } from "./dataplane/veth.ts";
import {
  attachmentResult,
  expectedFromPrev,
  hostVethName,
  macFrom,
  type NetConf,
  parseNetConf,
  type PodIdentity,
  podIdentity,
  podRoutes,
} from "./desired.ts";
import { type Ipam, IpamCallError } from "./ipam/client.ts";
import { isNetnsPath } from "./netlink/ip.ts";
import type { KeyedMutex } from "./lock.ts";
import { chainResult, type CniResult, renderResult } from "./result.ts";
import { observeProblems } from "./check.ts";
import { repair } from "./reconcile.ts";

export interface Tenant {
  orgId: string;
  projectId: string;
}

export interface HandlerDeps {
  ipam: Ipam;
  attacher: HostAttacher;
  records: AttachmentStore;
  locks: KeyedMutex;
  node: string;
  mtu: number;
  log: Logger;
  /** Tenant owning a namespace (PlasmaCloud org/project); empty when unknown. */
  tenantOf: (namespace: string) => Promise<Tenant>;
  /** Records and leases younger than this survive GC. */
  gcGraceMs: number;
}

/** A failure that is already a CNI error. */
export class CniFailure extends Error {
  constructor(readonly cni: CniError) {
    super(cni.msg);
  }
}

function asCni(e: unknown): CniError {
  if (e instanceof CniFailure) return e.cni;
  if (e instanceof IpamCallError) return e.cni;
  if (e instanceof DataplaneError) {
    return cniError(ERR.dataplaneFailed, "pod network setup failed", e.message);
  }
  return cniError(
    ERR.internal,
    "prismnet internal error",
    e instanceof Error ? e.message : String(e),
  );
}

const ok = (output = ""): WireResponse => ({ exit: 0, output });

export class CniHandler {
  constructor(private readonly d: HandlerDeps) {}

  async handle(req: WireRequest): Promise<WireResponse> {
    const e = req?.env ?? {};
    const env = readEnv((k) => envValue(e as Partial<CniEnv>, k));
    const stdin = typeof req?.stdin === "string" ? req.stdin : "";
    if (isCniError(env)) return { exit: 1, output: errorOutput(replyVersion(undefined), env) };
    const raw = decodeConfig(stdin, env.command);
    if (isCniError(raw)) {
      return { exit: 1, output: errorOutput(replyVersion(safeParse(stdin)), raw) };
    }
    const version = replyVersion(raw);
    const conf = parseNetConf(raw);
    if (isCniError(conf)) return { exit: 1, output: errorOutput(version, conf) };
    if ((env.command === "ADD" || env.command === "CHECK") && !isNetnsPath(env.netns)) {
      const e = cniError(ERR.invalidEnv, "CNI_NETNS is not a network namespace", env.netns);
      return { exit: 1, output: errorOutput(version, e) };
    }
    try {
      switch (env.command) {
        case "ADD":
          return ok(
            JSON.stringify(
              renderResult(await this.locked(env, () => this.add(env, conf)), version),
            ),
          );
        case "DEL":
          await this.locked(env, () => this.del(env, conf));
          return ok();
        case "CHECK":
          await this.locked(env, () => this.check(env, conf));
          return ok();
        case "STATUS":
          await this.status();
          return ok();
        case "GC":
          await this.gc(conf);
          return ok();
        default:
          throw new CniFailure(cniError(ERR.invalidEnv, `unsupported CNI_COMMAND ${env.command}`));
      }
    } catch (err) {
      const cni = asCni(err);
      this.d.log.warn("cni command failed", {
        command: env.command,
        containerId: env.containerId,
        code: cni.code,
        msg: cni.msg,
        details: cni.details,
      });
      return { exit: 1, output: errorOutput(version, cni) };
    }
  }

  private locked<T>(env: CniEnv, fn: () => Promise<T>): Promise<T> {
    return this.d.locks.run(env.containerId, fn);
  }

  private identity(env: CniEnv): PodIdentity {
    const who = podIdentity(env);
    if (isCniError(who)) throw new CniFailure(who);
    return who;
  }

  private async add(env: CniEnv, conf: NetConf): Promise<CniResult> {
    const { ipam, attacher, records } = this.d;
    const who = this.identity(env);
    const prior = records.get(conf.name, env.containerId, env.ifname);
    if (prior) {
      // A repeated ADD (a retry after a timeout): reuse what is intact, else start over.
      if (
        prior.state === "ready" && prior.result && prior.netns === env.netns &&
        !(await this.problems(prior)).length
      ) {
        return chainResult(conf.prevResult, { ...prior.result, cniVersion: conf.cniVersion });
      }
      await this.teardown(prior);
    }
    // runtimeConfig wins over the CNI_ARGS conventions; the first IPv4 address, else IPv6.
    const requestedIp = conf.requestedIps.find((x) => !x.includes(":")) ?? conf.requestedIps[0] ??
      who.ip;
    const rec: AttachmentRecord = {
      network: conf.name,
      containerId: env.containerId,
      ifname: env.ifname,
      netns: env.netns,
      hostVeth: hostVethName(env.containerId, env.ifname),
      podMac: conf.requestedMac ?? who.mac ??
        macFrom(`pod:${conf.name}/${env.containerId}/${env.ifname}`),
      hostMac: macFrom(`host:${conf.name}/${env.containerId}/${env.ifname}`),
      namespace: who.namespace,
      podName: who.name,
      podUid: who.uid,
      state: "adding",
      createdAt: new Date().toISOString(),
    };
    await records.put(rec);
    const mtu = conf.mtu ?? this.d.mtu;
    const undo: Array<() => Promise<unknown>> = [];
    try {
      const tenant = await this.d.tenantOf(who.namespace);
      const [alloc, veth] = await Promise.allSettled([
        ipam.allocate({
          network: conf.name,
          containerId: env.containerId,
          ifname: env.ifname,
          podUid: who.uid,
          namespace: who.namespace,
          podName: who.name,
          orgId: tenant.orgId,
          projectId: tenant.projectId,
          node: this.d.node,
          requestedIp,
        }),
        createVeth({ ...rec, mtu }, attacher),
      ]);
      if (alloc.status === "fulfilled") undo.push(() => this.release(rec));
      if (veth.status === "fulfilled") undo.push(() => removeVeth(rec.hostVeth, attacher, rec));
      if (alloc.status === "rejected") throw alloc.reason;
      if (veth.status === "rejected") throw veth.reason;
      const { address, gateway } = alloc.value;
      const prefix = address.slice(address.indexOf("/"));
      const routes = podRoutes(conf, address, gateway);
      await Promise.all([
        attacher.ensureGateway(`${gateway}${prefix}`),
        attacher.attach(rec.hostVeth, { ...rec, address }),
        configurePod({ netns: env.netns, ifname: env.ifname, address, routes }),
      ]);
      const dns = Object.keys(conf.dns).length || !alloc.value.dnsServers.length
        ? conf.dns
        : { nameservers: alloc.value.dnsServers };
      const result = attachmentResult(conf.cniVersion, {
        bridge: attacher.bridge,
        bridgeMac: attacher.bridgeMac,
        hostVeth: rec.hostVeth,
        hostMac: rec.hostMac,
        ifname: env.ifname,
        podMac: rec.podMac,
        netns: env.netns,
        mtu,
        address,
        gateway,
        routes,
        dns,
      });
      await records.put({ ...rec, state: "ready", address, gateway, result });
      this.d.log.info("pod attached", {
        containerId: env.containerId,
        ifname: env.ifname,
        namespace: who.namespace,
        pod: who.name,
        address,
      });
      return chainResult(conf.prevResult, result);
    } catch (err) {
      let clean = true;
      for (const step of undo.reverse()) {
        await step().catch((e) => {
          clean = false;
          this.d.log.error("rollback step failed", {
            containerId: env.containerId,
            error: String(e),
          });
        });
      }
      // With a failed rollback the record stays so DEL or the sweep can finish the job.
      if (clean) await records.remove(rec.network, rec.containerId, rec.ifname);
      throw err;
    }
  }

  private async release(
    rec: Pick<
      AttachmentRecord,
      "network" | "containerId" | "ifname" | "namespace" | "podName" | "podUid"
    >,
  ) {
    await this.d.ipam.release({
      network: rec.network,
      containerId: rec.containerId,
      ifname: rec.ifname,
      podUid: rec.podUid,
      namespace: rec.namespace,
      podName: rec.podName,
    });
  }

  /** Removes links, lease and record of one attachment; each step tolerates absence. */
  async teardown(rec: AttachmentRecord): Promise<void> {
    try {
      await removeVeth(rec.hostVeth, this.d.attacher, rec);
    } catch (e) {
      throw new DataplaneError(e instanceof Error ? e.message : String(e));
    }
    await this.release(rec);
    await this.d.records.remove(rec.network, rec.containerId, rec.ifname);
  }

  private async del(env: CniEnv, conf: NetConf): Promise<void> {
    const rec = this.d.records.get(conf.name, env.containerId, env.ifname);
    if (rec) return await this.teardown(rec);
    // No record (state lost, or never fully added): clean by the deterministic names.
    const who = podIdentity(env);
    const hostVeth = hostVethName(env.containerId, env.ifname);
    await removeVeth(hostVeth, this.d.attacher, {
      network: conf.name,
      containerId: env.containerId,
      ifname: env.ifname,
    })
      .catch((e) => {
        throw new DataplaneError(e instanceof Error ? e.message : String(e));
      });
    await this.release({
      network: conf.name,
      containerId: env.containerId,
      ifname: env.ifname,
      namespace: isCniError(who) ? "" : who.namespace,
      podName: isCniError(who) ? "" : who.name,
      podUid: "",
    });
  }

  private async check(env: CniEnv, conf: NetConf): Promise<void> {
    if (!conf.prevResult) {
      throw new CniFailure(
        cniError(ERR.invalidConfig, "CHECK needs prevResult in the network configuration"),
      );
    }
    const exp = expectedFromPrev(conf.prevResult, env.ifname, env.netns);
    if (isCniError(exp)) throw new CniFailure(exp);
    const rec = this.d.records.get(conf.name, env.containerId, env.ifname);
    const problems = await this.problems({
      network: conf.name,
      containerId: env.containerId,
      ifname: env.ifname,
      netns: env.netns,
      hostVeth: rec?.hostVeth ?? hostVethName(env.containerId, env.ifname),
      gateway: rec?.gateway,
    }, exp);
    if (problems.length) {
      throw new CniFailure(
        cniError(ERR.checkFailed, "pod network is not as ADD left it", problems.join("; ")),
      );
    }
  }

  /** CHECK's comparison; without `exp`, the record's own result is the expectation. */
  private problems(
    rec: Parameters<typeof observeProblems>[2],
    exp = rec.result ? expectedFromPrev(rec.result, rec.ifname, rec.netns) : undefined,
  ): Promise<string[]> {
    return observeProblems(this.d.ipam, this.d.attacher, rec, exp);
  }

  private async status(): Promise<void> {
    const problems: string[] = [];
    const bridge = await this.d.attacher.status();
    if (bridge) problems.push(bridge);
    await this.d.ipam.ping().catch((e) =>
      problems.push(e instanceof Error ? e.message : String(e))
    );
    if (problems.length) {
      throw new CniFailure(
        cniError(ERR.pluginNotAvailable, "prismnet cannot attach pods now", problems.join("; ")),
      );
    }
  }

  private async gc(conf: NetConf): Promise<void> {
    if (!conf.validAttachments) {
      throw new CniFailure(cniError(ERR.invalidConfig, "GC needs cni.dev/valid-attachments"));
    }
    const failures = await repair(this, {
      kind: "gc",
      network: conf.name,
      valid: conf.validAttachments,
    });
    if (failures.length) {
      throw new CniFailure(
        cniError(ERR.tryAgainLater, "GC could not release everything", failures.join("; ")),
      );
    }
  }

  get deps(): HandlerDeps {
    return this.d;
  }
}

function envValue(e: Partial<CniEnv>, name: string): string | undefined {
  const map: Record<string, keyof CniEnv> = {
    CNI_COMMAND: "command",
    CNI_CONTAINERID: "containerId",
    CNI_NETNS: "netns",
    CNI_IFNAME: "ifname",
    CNI_ARGS: "args",
    CNI_PATH: "path",
  };
  const v = e[map[name]];
  return typeof v === "string" ? v : undefined;
}

function safeParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}
