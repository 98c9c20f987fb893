/**
 * core/v1 Event recorder. Repeats of the same (object, type, reason, message) bump the existing
 * Event's count and lastTimestamp instead of creating a new Event, like client-go's correlator.
 */
import type { EventRecorder, KubeApi, KubeObject } from "./api.ts";
import { isNotFound } from "./errors.ts";
import { RESOURCES } from "./resources.ts";
import { logger } from "../log/mod.ts";

const log = logger("kube.events");
const MAX_TRACKED = 4096;

export interface EventRecorderHandle extends EventRecorder {
  /** Events created or updated so far (for tests and metrics). */
  readonly written: number;
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

export function createEventRecorder(
  api: KubeApi,
  component: string,
  opts: { host?: string } = {},
): EventRecorderHandle {
  // Insertion-ordered, so the first key is the least recently used one.
  const seen = new Map<string, { name: string; namespace: string; count: number }>();
  let written = 0;
  const instance = opts.host ?? Deno.hostname();

  async function emit(obj: KubeObject, type: string, reason: string, message: string) {
    const m = obj.metadata;
    const namespace = m.namespace || "default";
    const key = [obj.kind, m.namespace, m.name, m.uid, type, reason, message].join("\u0000");
    const prev = seen.get(key);
    const ts = now();
    if (prev) {
      seen.delete(key);
      try {
        await api.patch(RESOURCES.events, prev.name, { count: prev.count + 1, lastTimestamp: ts }, {
          namespace: prev.namespace,
          type: "merge",
        });
        prev.count++;
        seen.set(key, prev);
        written++;
        return;
      } catch (e) {
        if (!isNotFound(e)) throw e; // expired or deleted: fall through and create anew
      }
    }
    const name = `${m.name}.${Date.now().toString(16)}${
      Math.floor(Math.random() * 0xffff).toString(16).padStart(4, "0")
    }`;
    await api.create(RESOURCES.events, {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: m.name,
        namespace: m.namespace,
        uid: m.uid,
        resourceVersion: m.resourceVersion,
      },
      type,
      reason,
      message,
      count: 1,
      firstTimestamp: ts,
      lastTimestamp: ts,
      source: { component, host: instance },
      reportingComponent: component,
      reportingInstance: instance,
    });
    written++;
    seen.set(key, { name, namespace, count: 1 });
    if (seen.size > MAX_TRACKED) seen.delete(seen.keys().next().value!);
  }

  return {
    get written() {
      return written;
    },
    async event(obj, type, reason, message) {
      try {
        await emit(obj, type, reason, message);
      } catch (e) {
        // Events are best effort: a controller must not fail because its Event did not land.
        log.warn("cannot record event", {
          component,
          object: `${obj.kind}/${obj.metadata.namespace ?? ""}/${obj.metadata.name}`,
          reason,
          error: (e as Error).message,
        });
      }
    },
  };
}
