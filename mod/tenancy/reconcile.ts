/**
 * The effect shell of tenancy: makes the cluster hold what desired.ts says for one Project,
 * repairs drift on objects we own, never touches objects we do not own, and removes the
 * namespace a configurable grace period after the Project is deleted.
 */
import type { EventRecorder, KubeApi, KubeObject, ResourceRef } from "../kube/api.ts";
import { addFinalizer, patchStatus, removeFinalizer, RESOURCES } from "../kube/mod.ts";
import { isNotFound } from "../kube/errors.ts";
import type { Logger } from "../log/mod.ts";
import {
  desiredClusterObjects,
  desiredForProject,
  drifted,
  MANAGED_BY,
  MANAGER,
  PROJECT_LABEL,
  type TenancySettings,
} from "./desired.ts";
import { namespaceFor, type Project, validateProject } from "./project.ts";
import { PROJECTS } from "./resources.ts";

export const FINALIZER = "plasmacloud.io/tenancy";

/** Kinds a Project owns inside its namespace, pruned when no longer desired. */
const OWNED_KINDS: Record<string, ResourceRef> = {
  Role: RESOURCES.roles,
  RoleBinding: RESOURCES.roleBindings,
  ResourceQuota: RESOURCES.resourceQuotas,
  LimitRange: RESOURCES.limitRanges,
  NetworkPolicy: RESOURCES.networkPolicies,
};

const REFS: Record<string, ResourceRef> = {
  ...OWNED_KINDS,
  Namespace: RESOURCES.namespaces,
  ClusterRole: RESOURCES.clusterRoles,
  ClusterRoleBinding: RESOURCES.clusterRoleBindings,
};

export interface ReconcileResult {
  /** Run again after this long (grace period pending). */
  requeueAfterMs?: number;
}

export class TenancyReconciler {
  constructor(
    private readonly api: KubeApi,
    private readonly events: EventRecorder,
    private readonly settings: TenancySettings & { deleteGraceMs: number },
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async ensureClusterObjects(): Promise<void> {
    for (const obj of desiredClusterObjects()) await this.apply(obj, undefined);
  }

  async reconcile(project: Project): Promise<ReconcileResult> {
    if (project.metadata.deletionTimestamp) return await this.finalize(project);
    const problems = validateProject(project);
    if (problems.length > 0) {
      const message = problems.join("; ");
      await this.events.event(project, "Warning", "InvalidSpec", message);
      await this.setReady(project, "False", "InvalidSpec", message);
      return {};
    }
    if (!project.metadata.finalizers?.includes(FINALIZER)) {
      project = await addFinalizer(this.api, PROJECTS, project, FINALIZER) as Project;
    }
    const ns = namespaceFor(project.spec.projectId);
    const desired = desiredForProject(project, this.settings);
    const [nsObj, ...inside] = desired;
    const nsResult = await this.apply(nsObj, project);
    if (nsResult === "foreign") {
      const message = `namespace ${ns} exists and is not managed by k8shost; leaving it alone`;
      await this.events.event(project, "Warning", "NamespaceConflict", message);
      await this.setReady(project, "False", "NamespaceConflict", message);
      return {};
    }
    if (nsResult === "terminating") return { requeueAfterMs: 2000 };
    for (const obj of inside) await this.apply(obj, project);
    await this.prune(project, ns, desired);
    await this.setReady(project, "True", "Reconciled", `namespace ${ns} is ready`);
    return {};
  }

  /** Creates, repairs or leaves alone one object; reports what it found. */
  private async apply(
    want: KubeObject,
    project: Project | undefined,
  ): Promise<"created" | "updated" | "unchanged" | "foreign" | "terminating"> {
    const ref = REFS[want.kind!];
    const { name, namespace } = want.metadata;
    const have = await this.api.tryGet(ref, name!, namespace);
    if (!have) {
      await this.api.create(ref, want);
      this.log.info("created", { kind: want.kind, name, namespace });
      return "created";
    }
    if (have.metadata.labels?.[MANAGED_BY] !== MANAGER) return "foreign";
    const owner = have.metadata.labels?.[PROJECT_LABEL];
    if (project && owner !== undefined && owner !== project.spec.projectId) return "foreign";
    if (have.metadata.deletionTimestamp) return "terminating";
    if (!drifted(want, have)) return "unchanged";
    const repaired: KubeObject = {
      ...have,
      ...Object.fromEntries(
        ["rules", "subjects", "roleRef", "spec"].filter((f) => f in want).map((f) => [f, want[f]]),
      ),
      metadata: {
        ...have.metadata,
        labels: { ...have.metadata.labels, ...want.metadata.labels },
        annotations: { ...have.metadata.annotations, ...want.metadata.annotations },
      },
    };
    await this.api.replace(ref, repaired);
    this.log.info("repaired drift", { kind: want.kind, name, namespace });
    if (project) {
      await this.events.event(project, "Normal", "DriftRepaired", `${want.kind} ${name} restored`);
    }
    return "updated";
  }

  /** Deletes objects we own in the namespace that are no longer desired (a policy turned off). */
  private async prune(project: Project, ns: string, desired: KubeObject[]): Promise<void> {
    const wanted = new Set(desired.map((o) => `${o.kind}/${o.metadata.name}`));
    const selector = `${MANAGED_BY}=${MANAGER},${PROJECT_LABEL}=${project.spec.projectId}`;
    for (const [kind, ref] of Object.entries(OWNED_KINDS)) {
      const list = await this.api.list(ref, { namespace: ns, labelSelector: selector });
      for (const obj of list.items) {
        if (wanted.has(`${kind}/${obj.metadata.name}`)) continue;
        await this.api.delete(ref, obj.metadata.name!, ns).catch((e) => {
          if (!isNotFound(e)) throw e;
        });
        this.log.info("pruned", { kind, name: obj.metadata.name, namespace: ns });
      }
    }
  }

  private async finalize(project: Project): Promise<ReconcileResult> {
    if (!project.metadata.finalizers?.includes(FINALIZER)) return {};
    const deletedAt = Date.parse(project.metadata.deletionTimestamp!);
    const due = deletedAt + this.settings.deleteGraceMs;
    const remaining = due - this.now();
    const ns = project.spec?.projectId ? namespaceFor(project.spec.projectId) : undefined;
    if (remaining > 0) {
      await this.setReady(
        project,
        "False",
        "Terminating",
        `namespace ${ns} will be removed at ${new Date(due).toISOString()}`,
      );
      return { requeueAfterMs: remaining };
    }
    if (ns) {
      const have = await this.api.tryGet(RESOURCES.namespaces, ns);
      const ours = have?.metadata.labels?.[MANAGED_BY] === MANAGER &&
        have.metadata.labels?.[PROJECT_LABEL] === project.spec.projectId;
      if (have && ours) {
        if (!have.metadata.deletionTimestamp) {
          await this.api.delete(RESOURCES.namespaces, ns);
          this.log.info("deleted namespace", { namespace: ns, project: project.metadata.name });
        }
      }
    }
    await removeFinalizer(this.api, PROJECTS, project, FINALIZER);
    return {};
  }

  private async setReady(p: Project, status: string, reason: string, message: string) {
    const old = p.status?.conditions?.find((c) => c.type === "Ready");
    if (
      old && old.status === status && old.reason === reason && old.message === message &&
      p.status?.observedGeneration === p.metadata.generation
    ) return;
    const transition = old && old.status === status
      ? old.lastTransitionTime
      : new Date(this.now()).toISOString();
    await patchStatus(this.api, PROJECTS, p, {
      namespace: p.spec?.projectId ? namespaceFor(p.spec.projectId) : undefined,
      observedGeneration: p.metadata.generation,
      conditions: [{ type: "Ready", status, reason, message, lastTransitionTime: transition }],
    }).catch((e) => {
      if (!isNotFound(e)) throw e;
    });
  }
}
