/**
 * CNI commands as the node daemon carries them out: validate, then ADD (IPAM + veth in
 * parallel, then addressing; rolled back on any failure), DEL (idempotent, also with no state),
 * CHECK (against prevResult), STATUS and GC. Everything arrives as the plugin received it, so
 * all validation happens here too. This file validates and dispatches; add.ts, del.ts and
 * verify.ts carry the commands out.
 */
import {
  type CniEnv,
  cniError,
  decodeConfig,
  ERR,
  errorOutput,
  isCniError,
  readEnv,
  replyVersion,
  type WireRequest,
  type WireResponse,
} from "../../../cni/spec.ts";
import type { AttachmentRecord } from "../attachments.ts";
import { isNetnsPath } from "../netlink/ip.ts";
import { repair } from "../reconcile.ts";
import { type NetConf, parseNetConf } from "../request.ts";
import { renderResult } from "../result.ts";
import { cniAdd } from "./add.ts";
import { cniDel, teardownAttachment } from "./del.ts";
import type { HandlerDeps } from "./deps.ts";
import { asCni, CniFailure } from "./failure.ts";
import { cniCheck, cniStatus } from "./verify.ts";

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
              renderResult(await this.locked(env, () => cniAdd(this.d, env, conf)), version),
            ),
          );
        case "DEL":
          await this.locked(env, () => cniDel(this.d, env, conf));
          return ok();
        case "CHECK":
          await this.locked(env, () => cniCheck(this.d, env, conf));
          return ok();
        case "STATUS":
          await cniStatus(this.d);
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

  /** Removes links, lease and record of one attachment; each step tolerates absence. */
  teardown(rec: AttachmentRecord): Promise<void> {
    return teardownAttachment(this.d, rec);
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
