/**
 * The node daemon's CNI command handler: what the `prismnet` plugin forwards over the socket is
 * validated and carried out here (see cni_handler.ts for the dispatch, one file per command family).
 */
export { CniHandler } from "./cni_handler.ts";
export type { HandlerDeps, Tenant } from "./deps.ts";
export { CniFailure } from "./failure.ts";
