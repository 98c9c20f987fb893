/** How any failure of a CNI command becomes the CNI error the plugin prints. */
import { type CniError, cniError, ERR } from "../../../cni/spec.ts";
import { DataplaneError } from "../dataplane/veth.ts";
import { IpamCallError } from "../ipam/client.ts";

/** A failure that is already a CNI error. */
export class CniFailure extends Error {
  constructor(readonly cni: CniError) {
    super(cni.msg);
  }
}

export function asCni(e: unknown): CniError {
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
