import type { Config } from "../config/spec.ts";
import type { Logger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import type { Part } from "../part/mod.ts";

/** What every part gets from the appliance when it is built. */
export interface PartContext {
  config: Config;
  /** `server` also runs the agent's node parts unless --disable-agent. */
  role: "server" | "agent";
  log: Logger;
  metrics: Registry;
  /**
   * Kubeconfig file for the API server (the supervised k3s's admin kubeconfig, or --kubeconfig
   * in attach mode). Undefined when none is available: parts that need the API must then fail
   * their start with a clear message.
   */
  kubeconfig?: string;
  /** This node's name (config.nodeName or the host name). */
  nodeName: string;
}

export type PartFactory = (ctx: PartContext) => Part | Promise<Part>;
