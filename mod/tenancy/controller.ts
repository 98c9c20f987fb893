/**
 * The running tenancy controller: watches Projects and every object it owns, and hands each
 * affected Project's key to the reconciler through a de-duplicating, backing-off queue.
 */
import type { EventRecorder, Informer, KubeApi, KubeObject } from "../kube/api.ts";
import { createInformer, createWorkQueue, RESOURCES } from "../kube/mod.ts";
import type { Logger } from "../log/mod.ts";
import { MANAGED_BY, MANAGER, PROJECT_LABEL, type TenancySettings } from "./desired.ts";
import type { Project } from "./project.ts";
import { TenancyReconciler } from "./reconcile.ts";
import { PROJECTS } from "./resources.ts";

export interface ControllerOptions {
  settings: TenancySettings & { deleteGraceMs: number };
  resyncMs?: number;
  concurrency?: number;
}

export async function runTenancyController(
  api: KubeApi,
  events: EventRecorder,
  log: Logger,
  opts: ControllerOptions,
  signal: AbortSignal,
): Promise<void> {
  const reconciler = new TenancyReconciler(api, events, opts.settings, log);
  await reconciler.ensureClusterObjects();
  const queue = createWorkQueue({ concurrency: opts.concurrency ?? 4 });
  const projects = createInformer<Project>(api, { ref: PROJECTS, resyncMs: opts.resyncMs });
  const enqueue = (p: Project) => queue.add(p.metadata.name!);
  projects.on({ add: enqueue, update: (_o, n) => enqueue(n), delete: enqueue });

  // Owned objects: any change or deletion sends their Project back through the reconciler,
  // which is how drift and deletions by hand get repaired.
  const selector = `${MANAGED_BY}=${MANAGER}`;
  const owned: Informer<KubeObject>[] = [
    RESOURCES.namespaces,
    RESOURCES.roles,
    RESOURCES.roleBindings,
    RESOURCES.resourceQuotas,
    RESOURCES.limitRanges,
    RESOURCES.networkPolicies,
  ].map((ref) =>
    createInformer<KubeObject>(api, { ref, labelSelector: selector, resyncMs: opts.resyncMs })
  );
  const byOwner = (o: KubeObject) => {
    const id = o.metadata.labels?.[PROJECT_LABEL];
    if (!id) return;
    const owner = projects.list().find((p) => p.spec?.projectId === id);
    if (owner) queue.add(owner.metadata.name!);
  };
  for (const inf of owned) inf.on({ add: byOwner, update: (_o, n) => byOwner(n), delete: byOwner });

  for (const inf of [projects, ...owned]) inf.start(signal);
  await Promise.all([projects, ...owned].map((i) => i.synced()));
  log.info("tenancy controller synced", { projects: projects.list().length });

  queue.run(async (key) => {
    const project = projects.get(key);
    if (!project) return;
    const result = await reconciler.reconcile(project);
    if (result.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
  });
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await queue.shutdown();
}
