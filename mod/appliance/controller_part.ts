/**
 * The lifecycle of a server-role part that keeps a PlasmaCloud service in step with the cluster
 * (FiberLB, FlashDNS): idle unless its section enables it on a server, the Kubernetes API
 * required, one abort signal for all it runs, and whatever it acquired released on stop.
 */
import type { Logger } from "../log/mod.ts";
import type { Part } from "../part/mod.ts";
import type { PartContext } from "./context.ts";

export interface ControllerPartRun {
  kubeconfig: string;
  /** Aborts when the part stops or the appliance shuts down. */
  signal: AbortSignal;
  /**
   * Adds a step to stop. Steps run newest first, after `signal` has aborted, so what was
   * acquired later (and may use what came before) is released first.
   */
  onStop(step: () => unknown): void;
}

export interface ControllerPartSpec {
  /** The part's name (`--parts`, /readyz). */
  name: string;
  /** The config section, e.g. `fiberlb`: names the component in messages. */
  section: string;
  enabled: boolean;
  log: Logger;
  /** Starts the part's work; steps registered before a throw still run on stop. */
  start(run: ControllerPartRun): Promise<void>;
}

export function controllerPart(ctx: PartContext, spec: ControllerPartSpec): Part {
  let state: true | string = "not started";
  let abort: AbortController | undefined;
  const stopSteps: Array<() => unknown> = [];
  return {
    name: spec.name,
    ready: () => state,
    async start(signal) {
      if (!spec.enabled || ctx.role !== "server") {
        state = true;
        spec.log.info(`${spec.section} part idle`, { enable: spec.enabled, role: ctx.role });
        return;
      }
      if (!ctx.kubeconfig) {
        throw new Error(`${spec.section}: no kubeconfig for the Kubernetes API (is k3s running?)`);
      }
      abort = new AbortController();
      signal.addEventListener("abort", () => abort?.abort(), { once: true });
      await spec.start({
        kubeconfig: ctx.kubeconfig,
        signal: abort.signal,
        onStop: (step) => stopSteps.push(step),
      });
      state = true;
    },
    async stop() {
      abort?.abort();
      for (const step of stopSteps.splice(0).reverse()) await step();
      state = "stopped";
    },
  };
}
