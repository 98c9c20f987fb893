/**
 * The embedded FiberLB in a thread of its own (worker.ts), as the appliance runs it: the gRPC
 * server, the journal and the L4 proxies get their own event loop and core, so a burst of
 * Service changes in the controllers does not stall proxied connections, and proxied traffic
 * does not slow the controllers. The controller still reaches it over real gRPC.
 */
import { type LogFormat, type Logger, loggingSettings, type LogLevel } from "../log/mod.ts";
import type { FamilySnapshot, Registry } from "../metrics/mod.ts";
import type { EmbeddedOptions } from "./mod.ts";

/** What crosses to the thread: the options without the live objects. */
export type ThreadOptions = Omit<EmbeddedOptions, "log" | "metrics" | "addressPool">;

export type ToWorker =
  | {
    type: "start";
    options: ThreadOptions;
    component: string;
    logging: { level: LogLevel; format: LogFormat };
  }
  | { type: "stop" };

export type FromWorker =
  | { type: "ready"; target: string; families: FamilySnapshot[] }
  | { type: "failed"; message: string }
  | { type: "metrics"; families: FamilySnapshot[] }
  | { type: "stopped" };

export interface ThreadedFiberlb {
  /** What a client dials. */
  target: string;
  stop(): Promise<void>;
}

const STOP_TIMEOUT_MS = 10_000;

export async function startThreadedFiberlb(
  opts: ThreadOptions & { log?: Logger; metrics?: Registry },
): Promise<ThreadedFiberlb> {
  const { log, metrics, ...options } = opts;
  const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
  const started = Promise.withResolvers<string>();
  const stopped = Promise.withResolvers<void>();
  let starting = true;
  worker.onerror = (e) => {
    // While starting, the caller gets the error. Later an uncaught error in the thread is as
    // fatal as it would be in this one: it propagates and the service manager restarts us.
    if (!starting) return;
    e.preventDefault();
    started.reject(new Error(`embedded FiberLB thread: ${e.message}`));
  };
  worker.onmessage = (e: MessageEvent<FromWorker>) => {
    const m = e.data;
    if (m.type === "ready") {
      metrics?.mirror(m.families);
      started.resolve(m.target);
    } else if (m.type === "failed") started.reject(new Error(m.message));
    else if (m.type === "metrics") metrics?.mirror(m.families);
    else if (m.type === "stopped") stopped.resolve();
  };
  const start: ToWorker = {
    type: "start",
    options,
    component: log?.component ?? "fiberlbd",
    logging: loggingSettings(),
  };
  worker.postMessage(start);
  let target: string;
  try {
    target = await started.promise;
  } catch (err) {
    worker.terminate();
    throw err;
  } finally {
    starting = false;
  }
  let stopping: Promise<void> | undefined;
  return {
    target,
    stop: () =>
      stopping ??= (async () => {
        worker.postMessage({ type: "stop" } satisfies ToWorker);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<void>((resolve) => timer = setTimeout(resolve, STOP_TIMEOUT_MS));
        await Promise.race([stopped.promise, late]);
        clearTimeout(timer);
        worker.terminate();
      })(),
  };
}
