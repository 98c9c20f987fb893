/**
 * FiberLB controller fixtures: a controller term against the test API server and an embedded
 * FiberLB, and what the tests read back from the Services it manages.
 */
import type { EmbeddedFiberlb, EmbeddedOptions } from "../mod/fiberlbd/mod.ts";
import type { ThreadedFiberlb, ThreadOptions } from "../mod/fiberlbd/threaded.ts";
import type { Config } from "../mod/config/spec.ts";
import { type FiberlbController, runFiberlbController } from "../mod/fiberlb/controller.ts";
import { parsePools } from "../mod/fiberlb/pools.ts";
import type { KubeObject } from "../mod/kube/api.ts";
import { RESOURCES } from "../mod/kube/mod.ts";
import { logger } from "../mod/log/mod.ts";
import { Registry } from "../mod/metrics/mod.ts";
import { embedded, fiberlbConfig, type Fixture, threaded, waitFor } from "./fiberlb_support.ts";
import { startTestApiServer, type TestApiServer } from "./support/apiserver/mod.ts";
import { type ApiServerProcess, startApiServerProcess } from "./support/apiserver/process.ts";

export interface Cluster<
  S extends ApiServerLike = TestApiServer,
  L extends ThreadedFiberlb = EmbeddedFiberlb,
> {
  server: S;
  fiberlb: Fixture<L>;
  config: Config;
  metrics: Registry;
  /** Starts a controller term; stop it by aborting the returned controller's signal. */
  startController(): { controller: FiberlbController; abort: AbortController };
  close(): Promise<void>;
}

type ApiServerLike = Pick<TestApiServer, "api" | "close">;

export async function cluster(
  tag: string,
  fiberlb: Record<string, unknown>,
  opts: Partial<EmbeddedOptions> = {},
): Promise<Cluster> {
  const f = await embedded(tag, { dataPlane: false, ...opts });
  return assemble(await startTestApiServer(), tag, f, fiberlb);
}

/**
 * As cluster(), shaped as the product runs (benches): the API server in a process of its own,
 * the embedded FiberLB in a thread of its own.
 */
export async function clusterWithApiServerProcess(
  tag: string,
  fiberlb: Record<string, unknown>,
  opts: Partial<ThreadOptions> = {},
): Promise<Cluster<ApiServerProcess, ThreadedFiberlb>> {
  const f = await threaded(tag, { dataPlane: false, ...opts });
  return assemble(await startApiServerProcess({ tls: false }), tag, f, fiberlb);
}

function assemble<S extends ApiServerLike, L extends ThreadedFiberlb>(
  server: S,
  tag: string,
  f: Fixture<L>,
  fiberlb: Record<string, unknown>,
): Cluster<S, L> {
  const config = fiberlbConfig({ endpointDebounce: "50ms", resync: "1h", ...fiberlb }, f.dir);
  const { pools, errors } = parsePools(config.fiberlb);
  if (errors.length) throw new Error(errors.join("; "));
  const metrics = new Registry();
  const running: Array<{ controller: FiberlbController; abort: AbortController }> = [];
  return {
    server,
    fiberlb: f,
    config,
    metrics,
    startController() {
      const abort = new AbortController();
      const controller = runFiberlbController({
        api: server.api,
        client: f.client,
        config: config.fiberlb,
        pools,
        log: logger(`test.${tag}`),
        metrics,
        informerResyncMs: 3_600_000,
      }, abort.signal);
      running.push({ controller, abort });
      return { controller, abort };
    },
    async close() {
      for (const r of running) r.abort.abort();
      for (const r of running) await r.controller.stopped();
      await f.close();
      await server.close();
      await Deno.remove(f.dir, { recursive: true }).catch(() => {});
    },
  };
}

export async function getService(
  server: TestApiServer,
  name: string,
  namespace = "default",
): Promise<KubeObject> {
  return await server.api.get<KubeObject>(RESOURCES.services, name, namespace);
}

export function ingressIp(svc: KubeObject | undefined): string | undefined {
  return svc?.status?.loadBalancer?.ingress?.[0]?.ip;
}

export function lbCondition(
  svc: KubeObject,
): { status: string; reason: string; message: string } | undefined {
  return (svc.status?.conditions ?? []).find((c: { type: string }) =>
    c.type === "fiberlb.plasmacloud.io/LoadBalancerReady"
  );
}

export async function waitForIngress(
  server: TestApiServer,
  name: string,
  namespace = "default",
): Promise<string> {
  return await waitFor(
    `ingress of ${namespace}/${name}`,
    async () => ingressIp(await getService(server, name, namespace)),
  );
}

export async function waitForCondition(
  server: TestApiServer,
  name: string,
  reason: string,
  namespace = "default",
): Promise<{ status: string; reason: string; message: string }> {
  return await waitFor(`condition ${reason} on ${namespace}/${name}`, async () => {
    const c = lbCondition(await getService(server, name, namespace));
    return c?.reason === reason ? c : undefined;
  });
}

/** Events recorded about a Service, as `reason: message`. */
export async function eventsOf(
  server: TestApiServer,
  name: string,
  namespace = "default",
): Promise<string[]> {
  const list = await server.api.list<KubeObject>(RESOURCES.events, { namespace });
  return list.items.filter((e) => e.involvedObject?.name === name).map((e) =>
    `${e.reason}: ${e.message}`
  );
}
