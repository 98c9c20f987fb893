/**
 * The embedded FiberLB's thread (see threaded.ts): starts it on "start", mirrors its metrics to
 * the main thread, and stops it on "stop". An event loop of its own keeps the proxies' traffic
 * and the controllers' bursts from waiting on each other.
 */
import { configureLogging, logger } from "../log/mod.ts";
import { Registry } from "../metrics/mod.ts";
import { type EmbeddedFiberlb, startEmbeddedFiberlb } from "./mod.ts";
import type { FromWorker, ToWorker } from "./threaded.ts";

const METRICS_EVERY_MS = 500;
let lb: EmbeddedFiberlb | undefined;
let metricsTimer: ReturnType<typeof setInterval> | undefined;
// Typed by hand: a `deno.worker` lib reference would change the globals of every checked module.
const scope = self as unknown as {
  postMessage(msg: FromWorker): void;
  onmessage: (e: MessageEvent<ToWorker>) => void;
};
const post = (msg: FromWorker) => scope.postMessage(msg);

scope.onmessage = async (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  if (msg.type === "start") {
    configureLogging(msg.logging);
    const metrics = new Registry();
    try {
      lb = await startEmbeddedFiberlb({ ...msg.options, log: logger(msg.component), metrics });
    } catch (err) {
      post({ type: "failed", message: (err as Error).message });
      return;
    }
    metricsTimer = setInterval(
      () => post({ type: "metrics", families: metrics.snapshot() }),
      METRICS_EVERY_MS,
    );
    post({ type: "ready", target: lb.target, families: metrics.snapshot() });
  } else if (msg.type === "stop") {
    clearInterval(metricsTimer);
    await lb?.stop();
    post({ type: "stopped" });
  }
};
