/**
 * Runs k3s as a child: forwards its log lines, restarts it after a crash with exponential
 * backoff, gives up after a crash loop, reports readiness (kubeconfig + /readyz), and stops it
 * with a grace period followed by SIGKILL of its whole process group.
 */
import { type Logger, logger } from "../log/mod.ts";
import { Registry } from "../metrics/mod.ts";
import { forwardLines, type LineForwarder } from "./logline.ts";
import { afterCrash, type RestartPolicy } from "./policy.ts";
import {
  childEnv,
  groupMembers,
  leftoverGroup,
  readPidFile,
  resolveBin,
  signalGroup,
  sleep,
  startTimeOf,
  stopGroup,
  waitGroupGone,
} from "./process.ts";
import { writeFileAtomic } from "./prepare.ts";
import { probeReadyz } from "./readiness.ts";

export interface SupervisorOptions {
  /** k3s executable: a name looked up in PATH, or a path. */
  bin: string;
  /** Arguments after the executable (`server ...` or `agent ...`). */
  argv: string[];
  /** The kubeconfig k3s writes; its appearance plus /readyz means ready. */
  kubeconfig: string;
  policy: RestartPolicy;
  stopGraceMs: number;
  readyTimeoutMs: number;
  /** Probe period until ready (default 500 ms). */
  probeIntervalMs?: number;
  /** Probe period once ready, for /readyz of the appliance (default 10 s). */
  healthIntervalMs?: number;
  /**
   * Records the running k3s's process group, so that one left behind by a k8shost killed outright
   * is stopped by the next start (reapLeftover).
   */
  pidFile?: string;
  /** Environment to start from (default: this process's); NOTIFY_SOCKET etc. are withheld. */
  env?: Record<string, string>;
  log?: Logger;
  metrics?: Registry;
}

export type K3sPhase =
  | "idle"
  | "starting"
  | "ready"
  | "backoff"
  | "stopping"
  | "stopped"
  | "failed";
export type SupervisorEnd = { reason: "stopped" } | { reason: "failed"; error: string };

export class K3sSupervisor {
  phase: K3sPhase = "idle";
  /** pid (and process group id) of the running child. */
  pid?: number;
  restarts = 0;
  /** Why the supervisor is not ready (last probe result, last exit). */
  private why = "k3s not started";
  private child?: Deno.ChildProcess;
  private exited?: Promise<void>;
  private pumps: LineForwarder[] = [];
  private crashes: number[] = [];
  private backoffTimer?: ReturnType<typeof setTimeout>;
  private pidWrite?: Promise<void>;
  /** Aborted when the current child exits or is stopped: ends its probe loop. */
  private probeAbort = new AbortController();
  private startedAt = 0;
  private resolveDone!: (end: SupervisorEnd) => void;
  private readyWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private readonly log: Logger;
  private readonly own: Logger;
  private readonly m;
  /** Resolves when the supervisor has stopped for good (stop() or a crash loop). */
  readonly done: Promise<SupervisorEnd>;

  constructor(private readonly opts: SupervisorOptions) {
    this.log = opts.log ?? logger("k3s");
    this.own = this.log.child("supervisor");
    const reg = opts.metrics ?? new Registry();
    this.m = {
      restarts: reg.counter("k8shost_k3s_restarts_total", "Times k3s was restarted after exiting."),
      up: reg.gauge("k8shost_k3s_up", "1 while the k3s child process runs."),
      ready: reg.gauge("k8shost_k3s_ready", "1 while k3s answers /readyz."),
      uptime: reg.gauge("k8shost_k3s_uptime_seconds", "Seconds since the running k3s was started."),
    };
    this.m.restarts.inc({}, 0); // exported as 0 from the start
    this.m.up.set({}, 0);
    this.m.ready.set({}, 0);
    this.m.uptime.collect({}, () => this.child ? (Date.now() - this.startedAt) / 1000 : 0);
    this.done = new Promise((r) => this.resolveDone = r);
  }

  /** Starts k3s; throws K3sBinaryError (naming the fix) when the executable is missing. */
  start(): void {
    if (this.phase !== "idle") throw new Error(`k3s supervisor already ${this.phase}`);
    const env = this.opts.env ?? Deno.env.toObject();
    const bin = resolveBin(this.opts.bin, env.PATH ?? "");
    this.spawn(bin, env);
    if (this.opts.readyTimeoutMs > 0) {
      const t = setTimeout(() => {
        this.rejectWaiters(`k3s not ready after ${this.opts.readyTimeoutMs / 1000}s: ${this.why}`);
      }, this.opts.readyTimeoutMs);
      this.waitReady().then(() => clearTimeout(t), () => clearTimeout(t));
    }
  }

  /**
   * Stops a k3s process group recorded in pidFile that is still running (its k8shost died without
   * stopping it): the new k3s would otherwise fight it for ports and the datastore.
   */
  async reapLeftover(): Promise<boolean> {
    if (!this.opts.pidFile) return false;
    const rec = readPidFile(this.opts.pidFile);
    if (!rec || !leftoverGroup(rec)) return false;
    this.own.warn("stopping a k3s left running by a previous k8shost", { pid: rec.pgid });
    await stopGroup(rec.pgid, this.opts.stopGraceMs);
    await Deno.remove(this.opts.pidFile).catch(() => {});
    return true;
  }

  /** Resolves once k3s is first ready; rejects on crash loop, stop or readyTimeout. */
  waitReady(): Promise<void> {
    if (this.phase === "ready") return Promise.resolve();
    if (this.phase === "failed" || this.phase === "stopped") {
      return Promise.reject(new Error(`k3s ${this.phase}: ${this.why}`));
    }
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  ready(): true | string {
    return this.phase === "ready" ? true : this.why;
  }

  private spawn(bin: string, env: Record<string, string>) {
    this.phase = "starting";
    this.startedAt = Date.now();
    // detached: the child calls setsid(), so its pid is also the id of a process group that
    // holds everything it starts (except processes that leave it on purpose, like shims).
    const child = new Deno.Command(bin, {
      args: this.opts.argv,
      env: childEnv(env),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }).spawn();
    this.child = child;
    this.pid = child.pid;
    this.why = "k3s starting";
    this.m.up.set({}, 1);
    this.own.info("started k3s", { pid: child.pid, bin, args: this.opts.argv.join(" ") });
    if (this.opts.pidFile) {
      const rec = { pgid: child.pid, startTime: startTimeOf(child.pid) ?? "" };
      this.pidWrite = writeFileAtomic(this.opts.pidFile, JSON.stringify(rec) + "\n").catch((e) =>
        this.own.warn("cannot write the k3s pid file", { file: this.opts.pidFile, error: e })
      );
    }
    const lineLog = this.log.with({ pid: child.pid });
    this.pumps = [
      forwardLines(child.stdout, lineLog, "stdout"),
      forwardLines(child.stderr, lineLog, "stderr"),
    ];
    this.exited = child.status.then((status) => this.onExit(child, status, bin, env));
    this.probeAbort = new AbortController();
    this.probeLoop(this.probeAbort.signal);
  }

  private async probeLoop(signal: AbortSignal) {
    const waitMs = this.opts.probeIntervalMs ?? 500;
    const healthMs = this.opts.healthIntervalMs ?? 10_000;
    while (!signal.aborted) {
      const result = await probeReadyz(
        this.opts.kubeconfig,
        Math.max(1000, Math.min(waitMs * 4, 5000)),
      );
      if (signal.aborted) return;
      if (result === true) {
        if (this.phase !== "ready") {
          this.phase = "ready";
          this.own.info("k3s is ready", { pid: this.pid, kubeconfig: this.opts.kubeconfig });
          const waiters = this.readyWaiters.splice(0);
          waiters.forEach((w) => w.resolve());
        }
        this.why = "ok";
      } else {
        if (this.phase === "ready") {
          this.phase = "starting";
          this.own.warn("k3s stopped answering /readyz", { reason: result });
        }
        this.why = result;
      }
      this.m.ready.set({}, this.phase === "ready" ? 1 : 0);
      await sleep(this.phase === "ready" ? healthMs : waitMs, signal);
    }
  }

  private async onExit(
    child: Deno.ChildProcess,
    status: Deno.CommandStatus,
    bin: string,
    env: Record<string, string>,
  ) {
    this.probeAbort.abort();
    this.child = undefined;
    this.m.up.set({}, 0);
    this.m.ready.set({}, 0);
    if (this.phase === "stopping") return; // stop() takes care of the group
    // Whatever k3s left in its group goes with it, so a restart starts clean.
    await stopGroup(child.pid, Math.min(this.opts.stopGraceMs, 5000));
    if (this.phase !== "starting" && this.phase !== "ready") return; // stopped meanwhile
    const how = status.signal ? `signal ${status.signal}` : `exit code ${status.code}`;
    const now = Date.now();
    this.crashes.push(now);
    const d = afterCrash(this.crashes, now, this.opts.policy);
    if (d.giveUp) {
      const window = `${this.opts.policy.crashLoopWindowMs / 1000}s`;
      this.why = `k3s crashed ${d.recent} times within ${window} (last: ${how}); giving up`;
      this.own.error(this.why, { pid: child.pid });
      this.phase = "failed";
      this.rejectWaiters(this.why);
      this.resolveDone({ reason: "failed", error: this.why });
      return;
    }
    this.phase = "backoff";
    this.why = `k3s exited (${how}); restarting in ${d.delayMs}ms`;
    this.own.error(`k3s exited unexpectedly (${how})`, {
      pid: child.pid,
      restartInMs: d.delayMs,
      crashes: d.recent,
    });
    this.backoffTimer = setTimeout(() => {
      if (this.phase !== "backoff") return;
      this.restarts++;
      this.m.restarts.inc();
      try {
        this.spawn(bin, env);
      } catch (e) {
        this.why = `cannot restart k3s: ${(e as Error).message}`;
        this.own.error(this.why);
        this.phase = "failed";
        this.rejectWaiters(this.why);
        this.resolveDone({ reason: "failed", error: this.why });
      }
    }, d.delayMs);
  }

  private rejectWaiters(why: string) {
    const waiters = this.readyWaiters.splice(0);
    waiters.forEach((w) => w.reject(new Error(why)));
  }

  /**
   * Sends `signal` to k3s's process group, waits stopGrace for the group to exit, then SIGKILLs
   * what is left. Safe to call more than once and in any phase.
   */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    if (this.phase === "stopped") return;
    const wasFailed = this.phase === "failed";
    this.phase = "stopping";
    this.probeAbort.abort();
    clearTimeout(this.backoffTimer);
    const child = this.child;
    if (child) {
      const pgid = child.pid;
      this.own.info(`stopping k3s (${signal}, grace ${this.opts.stopGraceMs / 1000}s)`, {
        pid: pgid,
      });
      signalGroup(pgid, signal);
      const exited = this.exited!;
      const grace = new AbortController();
      const inTime = await Promise.race([
        exited.then(() => waitGroupGone(pgid, this.opts.stopGraceMs)),
        sleep(this.opts.stopGraceMs, grace.signal).then(() => false),
      ]);
      grace.abort();
      if (!inTime) {
        this.own.warn(
          "k3s did not stop within the grace period; sending SIGKILL to its process group",
          {
            pid: pgid,
            left: groupMembers(pgid),
          },
        );
        signalGroup(pgid, "SIGKILL");
      }
      await exited;
      await waitGroupGone(pgid, 5000);
      this.own.info("k3s stopped", { pid: pgid });
    }
    // Give the log pumps a moment to drain, then cut pipes held open by escaped processes.
    const drain = new AbortController();
    const all = Promise.all(this.pumps.map((p) => p.done));
    const drained = await Promise.race([
      all.then(() => true),
      sleep(1000, drain.signal).then(() => false),
    ]);
    drain.abort();
    if (!drained) await Promise.all(this.pumps.map((p) => p.cancel()));
    await all;
    await this.pidWrite;
    if (this.opts.pidFile) await Deno.remove(this.opts.pidFile).catch(() => {});
    this.phase = "stopped";
    if (!wasFailed) this.why = "k3s stopped";
    this.rejectWaiters(`k3s stopped before it became ready`);
    this.resolveDone(wasFailed ? { reason: "failed", error: this.why } : { reason: "stopped" });
  }
}
