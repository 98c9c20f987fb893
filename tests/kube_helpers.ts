/** Helpers shared by the kube_* tests. */
import type { KubeApi, KubeObject, ResourceRef, WatchEvent } from "../mod/kube/api.ts";
import { isKubeApiError } from "../mod/kube/errors.ts";

/** Collects watch events until `done(events)` is true or the timeout passes. */
export async function collectWatch(
  api: KubeApi,
  ref: ResourceRef,
  opts: Parameters<KubeApi["watch"]>[1],
  done: (evs: WatchEvent[]) => boolean,
  timeoutMs = 3000,
): Promise<WatchEvent[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const evs: WatchEvent[] = [];
  try {
    for await (const ev of api.watch(ref, opts, ac.signal)) {
      evs.push(ev);
      if (done(evs)) break;
    }
  } catch (e) {
    if (!ac.signal.aborted) throw e;
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return evs;
}

/** The error thrown by fn, asserting it is a KubeApiError with this status. */
export async function apiError(fn: () => Promise<unknown>, status: number) {
  try {
    await fn();
  } catch (e) {
    if (!isKubeApiError(e, status)) {
      throw new Error(`expected HTTP ${status}, got ${(e as Error).message}`, { cause: e });
    }
    return e;
  }
  throw new Error(`expected HTTP ${status}, but the call succeeded`);
}

export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = "condition",
) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function cm(name: string, namespace = "default", labels?: Record<string, string>) {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace, ...(labels ? { labels } : {}) },
    data: { v: "1" },
  } as KubeObject;
}

export function pod(name: string, namespace = "default", extra: Partial<KubeObject> = {}) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace },
    spec: { containers: [{ name: "app", image: "busybox" }] },
    ...extra,
  } as KubeObject;
}
