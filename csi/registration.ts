/**
 * Kubelet plugin registration without node-driver-registrar: the node plugin serves kubelet's
 * `pluginregistration.Registration` service on `<kubeletDir>/plugins_registry/<driver>-reg.sock`.
 * Kubelet's plugin watcher finds the socket, calls GetInfo (type CSIPlugin, our name, the CSI
 * socket, the CSI versions served), registers the driver, and reports back through
 * NotifyRegistrationStatus.
 */
import { type RunningServer, serviceClient, startServer, unaryHandlers } from "../mod/grpc/mod.ts";
import { logger } from "../mod/log/mod.ts";

const log = logger("csi.registration");

export const SUPPORTED_CSI_VERSIONS = ["1.0.0"];

export interface RegistrationOptions {
  kubeletDir: string;
  driverName: string;
  /** The CSI node socket path kubelet should dial (no `unix://`). */
  csiSocket: string;
}

export interface Registration {
  socket: string;
  /** undefined until kubelet reports; then whether it registered us and its error. */
  status(): { registered: boolean; error: string } | undefined;
  stop(): Promise<void>;
}

export const registrationSocket = (kubeletDir: string, driver: string) =>
  `${kubeletDir}/plugins_registry/${driver}-reg.sock`;

export async function startRegistration(o: RegistrationOptions): Promise<Registration> {
  const socket = registrationSocket(o.kubeletDir, o.driverName);
  await Deno.mkdir(`${o.kubeletDir}/plugins_registry`, { recursive: true, mode: 0o750 });
  let status: { registered: boolean; error: string } | undefined;
  const svc = serviceClient("pluginregistration.proto", "pluginregistration.Registration").service;
  const server: RunningServer = await startServer(`unix://${socket}`, [[
    svc,
    unaryHandlers({
      GetInfo: () =>
        Promise.resolve({
          type: "CSIPlugin",
          name: o.driverName,
          endpoint: o.csiSocket,
          supported_versions: SUPPORTED_CSI_VERSIONS,
        }),
      NotifyRegistrationStatus: (req: { plugin_registered: boolean; error: string }) => {
        status = { registered: Boolean(req.plugin_registered), error: String(req.error ?? "") };
        if (status.registered) {
          log.info("kubelet registered the CSI node plugin", { driver: o.driverName });
        } else {log.error("kubelet refused the CSI node plugin", {
            driver: o.driverName,
            error: status.error,
          });}
        return Promise.resolve({});
      },
    }),
  ]]);
  return { socket, status: () => status, stop: () => server.stop() };
}
