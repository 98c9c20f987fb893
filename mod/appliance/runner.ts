/**
 * Runs the selected parts: builds them (their factories run once the API is ready, so they may
 * read the kubeconfig), starts them one by one in order, and stops them in reverse order.
 *
 * Failure policy: a part that fails is reported (state `failed`, its error in the log, on /readyz
 * and in the metrics) and the others go on. A failed start is retried with backoff (backends may
 * come up later); a part that cannot work at all — its module is missing, or it needs the API and
 * there is no kubeconfig — is not retried. The appliance is not ready (no READY=1) while any part
 * is failed.
 */
import type { Logger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import type { Part, PartState } from "../part/mod.ts";

export interface RunnerEntry {
  name: string;
  /** Builds the part (lazily imports its module and calls its factory). */
  build: () => Promise<Part>;
  /** When set, the part cannot run at all; it is reported failed with this message. */
  unavailable?: string;
}

export interface PartStatus {
  name: string;
  state: PartState;
  error?: string;
  /** Failed starts so far. */
  failures: number;
}

export interface RunnerOptions {
  log: Logger;
  metrics: Registry;
  /** First retry delay after a failed start (doubles up to retryMaxMs). */
  retryMs?: number;
  retryMaxMs?: number;
  /** How long one part may take to stop before it is abandoned (it lives in this process). */
  stopTimeoutMs?: number;
}

const STATES: PartState[] = ["pending", "starting", "running", "failed", "stopping", "stopped"];

interface Slot extends PartStatus {
  part?: Part;
  permanent: boolean;
  retryTimer?: ReturnType<typeof setTimeout>;
  starting?: Promise<void>;
}

export class PartRunner {
  private readonly slots: Slot[];
  private readonly abort = new AbortController();
  private readonly m;
  private stopping = false;

  constructor(private readonly entries: RunnerEntry[], private readonly opts: RunnerOptions) {
    this.slots = entries.map((e) => ({
      name: e.name,
      state: "pending",
      failures: 0,
      permanent: false,
    }));
    this.m = {
      state: opts.metrics.gauge(
        "k8shost_part_state",
        "1 for the state each part is in, 0 for the others.",
      ),
      ready: opts.metrics.gauge("k8shost_part_ready", "1 while the part reports ready."),
      failures: opts.metrics.counter("k8shost_part_start_failures_total", "Failed part starts."),
    };
    for (const s of this.slots) {
      this.m.ready.collect(
        { part: s.name },
        () => s.state === "running" && s.part?.ready() === true ? 1 : 0,
      );
      this.setState(s, "pending");
    }
  }

  private setState(s: Slot, state: PartState, error?: string) {
    s.state = state;
    s.error = error;
    for (const st of STATES) this.m.state.set({ part: s.name, state: st }, st === state ? 1 : 0);
  }

  private fail(s: Slot, error: unknown, permanent: boolean) {
    const msg = error instanceof Error ? error.message : String(error);
    s.permanent ||= permanent;
    this.setState(s, "failed", msg);
    this.opts.log.error(`part ${s.name} failed`, { part: s.name, error: msg, retry: !s.permanent });
  }

  /** Builds every part; a part whose factory throws is failed for good. */
  async build(): Promise<void> {
    for (const [i, e] of this.entries.entries()) {
      const s = this.slots[i];
      if (e.unavailable) {
        this.fail(s, e.unavailable, true);
        continue;
      }
      try {
        s.part = await e.build();
      } catch (err) {
        this.fail(s, err, true);
      }
    }
  }

  /** Starts the built parts in order, one at a time. */
  async start(): Promise<void> {
    for (const s of this.slots) {
      if (this.stopping) return;
      if (!s.part || s.state === "failed") continue;
      await this.startOne(s);
    }
  }

  private startOne(s: Slot): Promise<void> {
    const run = async () => {
      this.setState(s, "starting");
      this.opts.log.info(`starting part ${s.name}`, { part: s.name });
      try {
        await s.part!.start(this.abort.signal);
        if (this.stopping) return;
        this.setState(s, "running");
        this.opts.log.info(`part ${s.name} running`, { part: s.name });
      } catch (err) {
        if (this.stopping) return;
        s.failures++;
        this.m.failures.inc({ part: s.name });
        this.fail(s, err, false);
        this.scheduleRetry(s);
      }
    };
    s.starting = run().finally(() => s.starting = undefined);
    return s.starting;
  }

  private scheduleRetry(s: Slot) {
    const base = this.opts.retryMs ?? 2000;
    const delay = Math.min(
      base * 2 ** Math.min(s.failures - 1, 20),
      this.opts.retryMaxMs ?? 60_000,
    );
    s.retryTimer = setTimeout(async () => {
      s.retryTimer = undefined;
      if (this.stopping) return;
      // Release whatever the failed attempt got hold of before trying again.
      await s.part!.stop().catch(() => {});
      if (!this.stopping) await this.startOne(s);
    }, delay);
  }

  statuses(): PartStatus[] {
    return this.slots.map(({ name, state, error, failures }) => ({ name, state, error, failures }));
  }

  /** true when the part runs and reports ready; otherwise why not. */
  ready(name: string): true | string {
    const s = this.slots.find((x) => x.name === name);
    if (!s) return `no part ${name}`;
    if (s.state === "failed") return s.error ?? "failed";
    if (s.state !== "running") return s.state;
    try {
      return s.part!.ready();
    } catch (e) {
      return `ready() threw: ${(e as Error).message}`;
    }
  }

  names(): string[] {
    return this.slots.map((s) => s.name);
  }

  allReady(): boolean {
    return this.slots.every((s) => this.ready(s.name) === true);
  }

  /** Stops every part that was built, in reverse order. Safe to call twice. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    for (const s of [...this.slots].reverse()) {
      clearTimeout(s.retryTimer);
      if (!s.part || s.state === "stopped") continue;
      if (s.state === "pending") { // built, never started: nothing to release
        this.setState(s, "stopped");
        continue;
      }
      const wasFailed = s.state === "failed";
      this.setState(s, "stopping", s.error);
      const limit = this.opts.stopTimeoutMs ?? 10_000;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), limit));
      const part = s.part;
      const stopped = (async () => {
        // A start in progress has seen the abort; let it settle before stopping.
        await s.starting?.catch(() => {});
        await part.stop();
        return "ok" as const;
      })();
      try {
        const r = await Promise.race([stopped, timeout]);
        if (r === "timeout") {
          this.opts.log.error(`part ${s.name} did not stop within ${limit}ms`, { part: s.name });
        } else this.opts.log.info(`part ${s.name} stopped`, { part: s.name });
      } catch (err) {
        this.opts.log.error(`part ${s.name} failed to stop`, { part: s.name, error: err });
      } finally {
        clearTimeout(timer);
      }
      this.setState(s, "stopped", wasFailed ? s.error : undefined);
    }
  }
}
