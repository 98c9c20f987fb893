/**
 * CHECK and STATUS, the commands that only look: CHECK compares the attachment with prevResult,
 * STATUS asks whether the host side and the IPAM can take pods now.
 */
import { type CniEnv, cniError, ERR, isCniError } from "../../../cni/spec.ts";
import { observeProblems } from "../check.ts";
import { expectedFromPrev } from "../check_compare.ts";
import { hostVethName } from "../desired.ts";
import type { NetConf } from "../request.ts";
import type { HandlerDeps } from "./deps.ts";
import { CniFailure } from "./failure.ts";

export async function cniCheck(d: HandlerDeps, env: CniEnv, conf: NetConf): Promise<void> {
  if (!conf.prevResult) {
    throw new CniFailure(
      cniError(ERR.invalidConfig, "CHECK needs prevResult in the network configuration"),
    );
  }
  const exp = expectedFromPrev(conf.prevResult, env.ifname, env.netns);
  if (isCniError(exp)) throw new CniFailure(exp);
  const rec = d.records.get(conf.name, env.containerId, env.ifname);
  const problems = await attachmentProblems(d, {
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
export function attachmentProblems(
  d: HandlerDeps,
  rec: Parameters<typeof observeProblems>[2],
  exp = rec.result ? expectedFromPrev(rec.result, rec.ifname, rec.netns) : undefined,
): Promise<string[]> {
  return observeProblems(d.ipam, d.attacher, rec, exp);
}

export async function cniStatus(d: HandlerDeps): Promise<void> {
  const problems: string[] = [];
  const bridge = await d.attacher.status();
  if (bridge) problems.push(bridge);
  await d.ipam.ping().catch((e) => problems.push(e instanceof Error ? e.message : String(e)));
  if (problems.length) {
    throw new CniFailure(
      cniError(ERR.pluginNotAvailable, "prismnet cannot attach pods now", problems.join("; ")),
    );
  }
}
