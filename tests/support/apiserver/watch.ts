/** Watch streams: newline-delimited JSON events over a chunked HTTP response. */
import type { Cluster } from "./cluster.ts";
import { apiVersionOf } from "./cluster.ts";
import { ApiError } from "./errors.ts";
import type { FaultState } from "./faults.ts";
import type { ResourceDef } from "./registry.ts";
import type { Obj } from "./store.ts";
import { toTable } from "./tables.ts";

export interface WatchConn {
  close(): void;
  /** Stops sending anything while keeping the stream open. */
  stall(): void;
}

export interface WatchRequest {
  cluster: Cluster;
  def: ResourceDef;
  namespace?: string;
  resourceVersion?: string;
  labelSelector?: string;
  fieldSelector?: string;
  allowWatchBookmarks: boolean;
  sendInitialEvents: boolean;
  timeoutSeconds?: number;
  /** `includeObject` when the client asked for Table events (kubectl get -w). */
  table?: string;
  faults: FaultState;
  open: Set<WatchConn>;
  bookmarkIntervalMs: number;
  /** Settles when the response has ended (client gone or stream closed). */
  completed?: Promise<void>;
}

const enc = new TextEncoder();

export function watchResponse(w: WatchRequest): Response {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  let unsubscribe: (() => void) | undefined;
  let bookmarkTimer: ReturnType<typeof setInterval> | undefined;
  let timeoutTimer: ReturnType<typeof setTimeout> | undefined;
  let columnsSent = false;
  let stalled = false;
  const conn: WatchConn = { close, stall: () => stalled = true };
  function close() {
    if (closed) return;
    closed = true;
    clearInterval(bookmarkTimer);
    clearTimeout(timeoutTimer);
    unsubscribe?.();
    w.open.delete(conn);
    try {
      controller.close();
    } catch {
      // already closed by the client
    }
  }
  function writeRaw(ev: { type: string; object: unknown }) {
    if (closed) return;
    try {
      controller.enqueue(enc.encode(JSON.stringify(ev) + "\n"));
    } catch {
      close();
    }
  }
  function write(type: string, object: Obj) {
    if (stalled) return;
    if (w.table !== undefined && type !== "BOOKMARK") {
      const rv = object.metadata.resourceVersion ?? "";
      const t = toTable(w.def, [object], { resourceVersion: rv }, w.table, !columnsSent);
      columnsSent = true;
      writeRaw({ type, object: t });
    } else writeRaw({ type, object });
  }
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel() {
      close();
    },
  });
  const bookmark = (annotations?: Record<string, string>) =>
    write("BOOKMARK", {
      kind: w.def.kind,
      apiVersion: apiVersionOf(w.def),
      metadata: {
        resourceVersion: String(w.cluster.store.rv),
        ...(annotations ? { annotations } : {}),
      },
    });
  if (w.faults.expireWatches > 0) {
    w.faults.expireWatches--;
    writeRaw({
      type: "ERROR",
      object: new ApiError(
        410,
        "Expired",
        `too old resource version: ${w.resourceVersion} (injected)`,
      ).toStatus(),
    });
    close();
  } else {
    try {
      unsubscribe = w.cluster.watch(
        w.def,
        w.namespace,
        {
          resourceVersion: w.resourceVersion,
          labelSelector: w.labelSelector,
          fieldSelector: w.fieldSelector,
        },
        write,
        close,
      );
    } catch (e) {
      if (!(e instanceof ApiError) || e.code !== 410) throw e;
      // Like kube-apiserver: the watch is accepted, then ends with a 410 ERROR event.
      writeRaw({ type: "ERROR", object: e.toStatus() });
      close();
    }
  }
  if (!closed) {
    w.open.add(conn);
    if (w.sendInitialEvents && w.allowWatchBookmarks) {
      bookmark({ "k8s.io/initial-events-end": "true" });
    }
    if (w.allowWatchBookmarks) bookmarkTimer = setInterval(bookmark, w.bookmarkIntervalMs);
    const timeoutS = w.timeoutSeconds && w.timeoutSeconds > 0 ? w.timeoutSeconds : 1800;
    timeoutTimer = setTimeout(close, timeoutS * 1000);
    w.completed?.then(close, close);
  }
  return new Response(body, {
    status: 200,
    headers: { "content-type": "application/json", "cache-control": "no-cache, private" },
  });
}
