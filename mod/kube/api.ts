/**
 * The contract of the control-loop machinery. Controllers program against these types; the
 * implementation lives beside this file (client.ts, informer.ts, queue.ts, leader.ts, events.ts)
 * and is exported from mod.ts.
 */

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: Array<
    {
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller?: boolean;
      blockOwnerDeletion?: boolean;
    }
  >;
  managedFields?: unknown[];
  selfLink?: string;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  // deno-lint-ignore no-explicit-any
  [field: string]: any;
}

export interface KubeList<T extends KubeObject = KubeObject> {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion: string; continue?: string };
  items: T[];
}

/**
 * Identifies a resource collection: `{ group: "", version: "v1", plural: "services" }` or
 * `{ group: "discovery.k8s.io", version: "v1", plural: "endpointslices" }`.
 */
export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
  kind: string;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: WatchEventType;
  object: T;
}

export type PatchType = "merge" | "strategic" | "json";

/** Error from the API server, carrying the HTTP status and the Status body's reason. */
export interface KubeApiError extends Error {
  status: number;
  reason: string;
}

/** Typed REST access to one cluster. Every method throws KubeApiError on a non-2xx answer. */
export interface KubeApi {
  get<T extends KubeObject>(ref: ResourceRef, name: string, namespace?: string): Promise<T>;
  /** get that returns undefined on 404. */
  tryGet<T extends KubeObject>(
    ref: ResourceRef,
    name: string,
    namespace?: string,
  ): Promise<T | undefined>;
  list<T extends KubeObject>(ref: ResourceRef, opts?: ListOptions): Promise<KubeList<T>>;
  create<T extends KubeObject>(ref: ResourceRef, obj: T): Promise<T>;
  /** PUT; fails with 409 when obj.metadata.resourceVersion is stale. */
  replace<T extends KubeObject>(ref: ResourceRef, obj: T): Promise<T>;
  patch<T extends KubeObject>(
    ref: ResourceRef,
    name: string,
    patch: unknown,
    opts?: { namespace?: string; type?: PatchType; subresource?: "status" },
  ): Promise<T>;
  delete(ref: ResourceRef, name: string, namespace?: string): Promise<void>;
  /** Streams watch events until the signal aborts or the server closes the stream. */
  watch<T extends KubeObject>(
    ref: ResourceRef,
    opts: ListOptions & {
      resourceVersion: string;
      allowWatchBookmarks?: boolean;
      timeoutSeconds?: number;
    },
    signal: AbortSignal,
  ): AsyncIterable<WatchEvent<T>>;
}

export interface InformerOptions {
  ref: ResourceRef;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Full relist period (default 10 min); a relist diffs the cache and emits the changes. */
  resyncMs?: number;
}

export interface InformerHandlers<T extends KubeObject> {
  add?(obj: T): void;
  update?(oldObj: T, newObj: T): void;
  delete?(obj: T): void;
}

/** A local cache of one resource, kept by list + watch; keys are `ns/name` or `name`. */
export interface Informer<T extends KubeObject = KubeObject> {
  on(handlers: InformerHandlers<T>): void;
  start(signal: AbortSignal): void;
  /** Resolves after the first full list has been delivered to the handlers. */
  synced(): Promise<void>;
  hasSynced(): boolean;
  get(key: string): T | undefined;
  list(): T[];
  byNamespace(namespace: string): T[];
  /** Objects whose labels match the selector (`a=b,c!=d,e in (x,y),f`). */
  byLabels(selector: string, namespace?: string): T[];
}

export interface WorkQueueOptions {
  /** Handler calls running at once (default 4); one key is never handled twice at once. */
  concurrency?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** De-duplicating, rate-limited queue of keys. */
export interface WorkQueue {
  add(key: string): void;
  addAfter(key: string, delayMs: number): void;
  /** Re-adds with per-key exponential backoff (the handler failed). */
  addRateLimited(key: string): void;
  /** Resets the key's backoff (the handler succeeded). */
  forget(key: string): void;
  len(): number;
  /**
   * Runs `handler` for each key until shutdown. A throw re-queues with backoff; success forgets.
   */
  run(handler: (key: string) => Promise<void>): void;
  /** Stops taking keys and waits for in-flight handlers. */
  shutdown(): Promise<void>;
}

export interface LeaderElectionOptions {
  /** Lease name and namespace, e.g. `k8shost-fiberlb` in `kube-system`. */
  name: string;
  namespace: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Called when this process becomes leader; the signal aborts when leadership is lost. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  onStoppedLeading?(): void;
}

export interface LeaderElector {
  run(signal: AbortSignal): Promise<void>;
  isLeader(): boolean;
  /** Steps down and releases the lease (sets holderIdentity empty). */
  release(): Promise<void>;
}

export interface EventRecorder {
  /** Emits (or aggregates into an existing) core/v1 Event about `obj`. */
  event(
    obj: KubeObject,
    type: "Normal" | "Warning",
    reason: string,
    message: string,
  ): Promise<void>;
}
