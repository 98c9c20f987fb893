/** Kubernetes control-loop machinery: client, informers, work queue, leases, events. */
export type * from "./api.ts";
export { createInClusterKubeApi, createKubeApi, createKubeClient } from "./client.ts";
export type { KubeClient, KubeClientOptions } from "./client.ts";
export {
  type ClusterAccess,
  k3sKubeconfigPath,
  loadInCluster,
  loadKubeconfigFile,
  renderKubeconfig,
} from "./kubeconfig.ts";
export { createInformer, type InformerConfig, type InformerHandle } from "./informer.ts";
export { createWorkQueue, type WorkQueueConfig, type WorkQueueHandle } from "./queue.ts";
export { createLeaderElector, type LeaderElectorHandle } from "./leader.ts";
export { createEventRecorder, type EventRecorderHandle } from "./events.ts";
export {
  addFinalizer,
  type AnnotationChanges,
  claimWithAnnotations,
  deepEqual,
  hasFinalizer,
  jsonMerge,
  patchStatus,
  removeFinalizer,
} from "./status.ts";
export {
  apiVersionOf,
  objectKey,
  resourcePath,
  resourceRef,
  RESOURCES,
  splitKey,
} from "./resources.ts";
export {
  isAlreadyExists,
  isConflict,
  isGone,
  isKubeApiError,
  isNotFound,
  KubeRequestError,
  type KubeStatus,
} from "./errors.ts";
export {
  labelSelectorToString,
  matchLabels,
  parseFieldSelector,
  parseLabelSelector,
  SelectorError,
} from "./selectors.ts";
export { Backoff, sleep } from "./backoff.ts";
