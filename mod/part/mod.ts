/**
 * A part is one embedded component of the appliance (webhook, a controller, the CSI plugin,
 * the node daemon, an embedded PlasmaCloud backend). The supervisor starts parts in order once
 * k3s is ready, reports their readiness on /readyz and stops them in reverse order.
 */
export interface Part {
  /** Stable short name: used in logs, metrics, /readyz and `--parts`. */
  readonly name: string;
  /** Starts the part; resolves once it is serving (or has started its loops). */
  start(signal: AbortSignal): Promise<void>;
  /** Stops the part and releases everything it holds; must be safe to call twice. */
  stop(): Promise<void>;
  /** Current readiness; a string explains why the part is not ready. */
  ready(): true | string;
}

export type PartState = "pending" | "starting" | "running" | "failed" | "stopping" | "stopped";
