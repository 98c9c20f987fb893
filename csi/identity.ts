/**
 * CSI Identity service: who the plugin is, what it can do, whether it is healthy. Every
 * endpoint (controller, node, or both) serves it with the same answers, as the specification
 * requires of all instances of one plugin version.
 */
import denoJson from "../deno.json" with { type: "json" };
import { Code, fail, guardAll } from "./errors.ts";

export interface IdentityOptions {
  driverName: string;
  /** Throws (or rejects) when the plugin is unhealthy; resolves false while still starting. */
  probe(): Promise<boolean>;
}

export function identityService(opts: IdentityOptions) {
  return guardAll({
    GetPluginInfo: () =>
      Promise.resolve({
        name: opts.driverName,
        vendor_version: denoJson.version,
        manifest: { url: "https://plasmacloud.io/k8shost" },
      }),

    GetPluginCapabilities: () =>
      Promise.resolve({
        capabilities: [
          { service: { type: "CONTROLLER_SERVICE" } },
          { service: { type: "VOLUME_ACCESSIBILITY_CONSTRAINTS" } },
          { volume_expansion: { type: "ONLINE" } },
        ],
      }),

    Probe: async () => {
      let ready: boolean;
      try {
        ready = await opts.probe();
      } catch (err) {
        fail(Code.FAILED_PRECONDITION, `not healthy: ${err instanceof Error ? err.message : err}`);
      }
      return { ready: { value: ready } };
    },
  });
}
