/**
 * One run of the appliance, shared by `k8shost server` and `k8shost agent`:
 *
 *   health endpoint → (k3s files, start k3s, wait until ready) → build the parts and start them
 *   in order → READY=1 once k3s and every part are ready → on stop: STOPPING=1, parts in reverse
 *   order (the API is still up for their cleanup), then k3s (grace period, then SIGKILL).
 */
import type { Config } from "../config/spec.ts";
import { type HealthCheck, type HealthServer, startHealthServer } from "../health/server.ts";
import { SystemdNotifier } from "../health/systemd.ts";
import { buildK3sArgs } from "../k3s/args.ts";
import { k3sLayout } from "../k3s/layout.ts";
import { policyFromConfig } from "../k3s/policy.ts";
import { prepareK3sFiles } from "../k3s/prepare.ts";
import { K3sSupervisor } from "../k3s/supervisor.ts";
import { logger } from "../log/mod.ts";
import { Registry } from "../metrics/mod.ts";
import type { PartContext } from "./context.ts";
import { PART_CATALOG, type PartSpec, selectParts } from "./parts.ts";
import { PartRunner } from "./runner.ts";

export interface ApplianceOptions {
  role: "server" | "agent";
  config: Config;
  /** Attach mode: run the parts without supervising k3s. */
  noK3s?: boolean;
  /** Attach mode's kubeconfig (`--kubeconfig`). */
  kubeconfig?: string;
  /** `--parts` selection; undefined: every enabled part of the role. */
  parts?: string[];
  /** Server: run no kubelet and no node parts here. */
  disableAgent?: boolean;
  /** Aborted to stop; its reason ("SIGTERM"/"SIGINT") is forwarded to k3s. */
  stop: AbortSignal;
  /** Environment for k3s and NOTIFY_SOCKET (default: this process's). */
  env?: Record<string, string>;
  catalog?: PartSpec[];
  metrics?: Registry;
  /** Called once the health endpoint listens (tests use port 0). */
  onHealth?: (h: HealthServer) => void;
  /** How often readiness is re-evaluated for systemd (default 1 s). */
  statusIntervalMs?: number;
  /** k3s probe period until ready (default 500 ms). */
  probeIntervalMs?: number;
}

export function nodeNameOf(config: Config, hostname = Deno.hostname): string {
  return config.nodeName || hostname().toLowerCase();
}

/** Runs until `stop` aborts (exit code 0) or something fatal happens (exit code 1). */
export async function runAppliance(o: ApplianceOptions): Promise<number> {
  const { config, role } = o;
  const log = logger(role);
  const metrics = o.metrics ?? new Registry();
  const env = o.env ?? Deno.env.toObject();
  const supervised = !o.noK3s;
  const nodeName = nodeNameOf(config);
  const specs = selectParts(
    config,
    { role, disableAgent: o.disableAgent, parts: o.parts },
    o.catalog ?? PART_CATALOG,
  );
  const layout = k3sLayout(config, role);
  const kubeconfig = supervised ? layout.kubeconfig : o.kubeconfig;
  // A config that cannot become a k3s command line fails before anything starts.
  const k3sCmd = supervised
    ? buildK3sArgs(config, { role, nodeName, disableAgent: o.disableAgent })
    : undefined;
  k3sCmd?.notes.forEach((n) => log.info(n));

  const ctx: PartContext = { config, role, log: logger("k8shost"), metrics, kubeconfig, nodeName };
  const runner = new PartRunner(
    specs.map((spec) => ({
      name: spec.name,
      unavailable: spec.needsApi && !kubeconfig
        ? `part ${spec.name} needs the Kubernetes API but there is no kubeconfig: run with k3s, or pass --kubeconfig FILE with --no-k3s`
        : undefined,
      build: async () => (await spec.load())({ ...ctx, log: ctx.log.with({ part: spec.name }) }),
    })),
    { log, metrics },
  );
  const sup = k3sCmd
    ? new K3sSupervisor({
      bin: config.k3s.bin,
      argv: k3sCmd.argv,
      kubeconfig: layout.kubeconfig,
      pidFile: layout.pidFile,
      policy: policyFromConfig(config.k3s),
      stopGraceMs: config.k3s.stopGrace,
      readyTimeoutMs: config.k3s.readyTimeout,
      probeIntervalMs: o.probeIntervalMs,
      env,
      metrics,
    })
    : undefined;

  const checks = (): HealthCheck[] => [
    ...(sup ? [{ name: "k3s", ready: () => sup.ready() }] : []),
    ...runner.names().map((name) => ({ name: `part/${name}`, ready: () => runner.ready(name) })),
  ];
  const systemd = new SystemdNotifier(env, log);
  const stopped = new Promise<void>((resolve) => {
    if (o.stop.aborted) resolve();
    else o.stop.addEventListener("abort", () => resolve(), { once: true });
  });
  let health: HealthServer | undefined;
  let statusTimer: ReturnType<typeof setInterval> | undefined;
  let code = 0;
  log.info(`k8shost ${role} starting`, {
    node: nodeName,
    k3s: supervised ? "supervised" : "attach",
    kubeconfig: kubeconfig ?? "(none)",
    parts: specs.map((s) => s.name).join(",") || "(none)",
  });
  try {
    if (config.health.listen) {
      health = await startHealthServer({
        listen: config.health.listen,
        checks,
        live: () => sup?.phase === "failed" ? String(sup.ready()) : true,
        metrics,
      });
      log.info("health endpoint listening", { url: health.url });
      o.onHealth?.(health);
    }
    if (sup) {
      await prepareK3sFiles(config, role);
      if (role === "server" && config.iam.enable) {
        // kube-apiserver reads the webhook kubeconfig (and its CA) when it starts.
        const { ensureWebhookFiles } = await import("../iam/mod.ts");
        await ensureWebhookFiles(config);
      }
      await sup.reapLeftover();
      sup.start();
      await systemd.status("waiting for k3s to become ready");
      const r = await Promise.race([
        sup.waitReady().then(() => "ready" as const, (e: Error) => e),
        stopped.then(() => "stop" as const),
      ]);
      if (r === "stop") return code;
      if (r instanceof Error) {
        log.error(r.message);
        return code = 1;
      }
    }
    // Factories run only now: they may read the kubeconfig k3s has just written.
    await systemd.status("starting parts");
    await runner.build();
    await Promise.race([runner.start(), stopped]);
    if (o.stop.aborted) return code;
    const report = async () => {
      const failing = checks().flatMap((c) => {
        const r = c.ready();
        return r === true ? [] : [`${c.name}: ${r}`];
      });
      if (failing.length) await systemd.status(`not ready: ${failing.join("; ")}`);
      else await systemd.ready(`running: ${runner.names().length} parts ready`);
    };
    await report();
    statusTimer = setInterval(report, o.statusIntervalMs ?? 1000);
    const end = await Promise.race([
      stopped.then(() => undefined),
      sup ? sup.done : new Promise<never>(() => {}),
    ]);
    if (end?.reason === "failed") {
      log.error(`stopping: ${end.error}`);
      code = 1;
    }
    return code;
  } catch (e) {
    log.error((e as Error).message);
    return code = 1;
  } finally {
    clearInterval(statusTimer);
    await systemd.stopping();
    await runner.stop();
    await sup?.stop(o.stop.reason === "SIGINT" ? "SIGINT" : "SIGTERM");
    await health?.close();
    log.info(`k8shost ${role} stopped`, { exitCode: code });
  }
}
