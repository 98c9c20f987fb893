/**
 * A CSI endpoint: one gRPC server on a unix socket serving Identity plus the Controller
 * service, the Node service, or both (csi-driver-host-path's layout: separate servers, one or
 * two sockets). The socket is created 0660 by startServer; its directory 0750.
 */
import { dirname } from "node:path";
import { type RunningServer, serviceClient, startServer, unaryHandlers } from "../mod/grpc/mod.ts";
import type { AsyncImpl } from "../mod/grpc/mod.ts";

export interface CsiEndpointServices {
  identity: AsyncImpl;
  controller?: AsyncImpl;
  node?: AsyncImpl;
}

const svc = (name: string) => serviceClient("csi.proto", `csi.v1.${name}`).service;

/** Serves the given services at `address` (`unix:///abs/path.sock`). */
export async function startCsiEndpoint(
  address: string,
  services: CsiEndpointServices,
): Promise<RunningServer> {
  if (!address.startsWith("unix://")) {
    throw new Error(`CSI endpoints are unix sockets, not ${address}`);
  }
  await Deno.mkdir(dirname(address.slice("unix://".length)), { recursive: true, mode: 0o750 });
  const list: Parameters<typeof startServer>[1] = [[
    svc("Identity"),
    unaryHandlers(services.identity),
  ]];
  if (services.controller) list.push([svc("Controller"), unaryHandlers(services.controller)]);
  if (services.node) list.push([svc("Node"), unaryHandlers(services.node)]);
  return await startServer(address, list);
}
