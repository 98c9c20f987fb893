/**
 * A stand-in for kube-controller-manager's PersistentVolume binder, which the test API server
 * does not run: it completes the binding of a claim to a PV that is pre-bound to it (claimRef),
 * and marks PVs of deleted claims Released, as the real controller does. The CSI provisioner
 * under test never binds claims itself; in a cluster this is kube-controller-manager's job.
 */
import type { KubeApi, KubeObject } from "../mod/kube/api.ts";
import { createInformer, isNotFound, patchStatus, RESOURCES } from "../mod/kube/mod.ts";

export function startTestBinder(api: KubeApi): { stop(): Promise<void> } {
  const ac = new AbortController();
  const pvs = createInformer<KubeObject>(api, { ref: RESOURCES.persistentVolumes });
  const pvcs = createInformer<KubeObject>(api, { ref: RESOURCES.persistentVolumeClaims });
  const pending = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    const q = p.catch((e) => {
      if (!isNotFound(e)) console.error("test binder:", e instanceof Error ? e.message : e);
    }).finally(() => pending.delete(q));
    pending.add(q);
  };
  const bind = async (pv: KubeObject) => {
    const ref = pv.spec?.claimRef;
    if (!ref || pv.metadata.deletionTimestamp) return;
    const claim = await api.tryGet(RESOURCES.persistentVolumeClaims, ref.name, ref.namespace);
    if (!claim || claim.metadata.uid !== ref.uid) {
      if (pv.status?.phase !== "Released") {
        await patchStatus(api, RESOURCES.persistentVolumes, pv, { phase: "Released" });
      }
      return;
    }
    if (!claim.spec.volumeName) {
      await api.patch(RESOURCES.persistentVolumeClaims, ref.name, {
        metadata: {
          annotations: {
            "pv.kubernetes.io/bind-completed": "yes",
            "pv.kubernetes.io/bound-by-controller": "yes",
          },
        },
        spec: { volumeName: pv.metadata.name },
      }, { namespace: ref.namespace, type: "merge" });
    }
    const fresh = await api.get(RESOURCES.persistentVolumeClaims, ref.name, ref.namespace);
    if (fresh.status?.phase !== "Bound") {
      await patchStatus(api, RESOURCES.persistentVolumeClaims, fresh, {
        phase: "Bound",
        accessModes: pv.spec.accessModes,
        capacity: pv.spec.capacity,
      });
    }
    if (pv.status?.phase !== "Bound") {
      await patchStatus(api, RESOURCES.persistentVolumes, pv, { phase: "Bound" });
    }
  };
  pvs.on({ add: (pv) => track(bind(pv)), update: (_o, pv) => track(bind(pv)) });
  pvcs.on({
    delete: (c) => {
      const pv = pvs.get(c.spec?.volumeName ?? "");
      if (pv) track(bind(pv));
    },
  });
  pvs.start(ac.signal);
  pvcs.start(ac.signal);
  return {
    async stop() {
      ac.abort();
      await Promise.all([...pending]);
      await Promise.all([pvs.stopped(), pvcs.stopped()]);
    },
  };
}
