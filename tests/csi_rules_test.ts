/** Unit tests of the CSI driver's and LightningStor's pure rules (no I/O). */
import assert from "node:assert/strict";
import {
  checkAccessibility,
  Code,
  CsiRuleError,
  parseCapability,
  parseParameters,
  sizeForRange,
  topologySegments,
  UnsupportedCapability,
} from "../csi/capability.ts";
import { checkPathSyntax, PathError } from "../csi/paths.ts";
import { InFlight } from "../csi/inflight.ts";
import { isDeviceBind, parseMountinfo } from "../csi/mount.ts";
import { formatQuantity, parseQuantity } from "../csi/quantity.ts";
import {
  capabilitiesFor,
  decideClaim,
  decideVolume,
  driverParameters,
  persistentVolume,
  withTenant,
} from "../csi/provisioner/desired.ts";
import {
  attacherFinalizer,
  decideNodeGone,
  nodeIdFor,
  publishRequest,
} from "../csi/attacher/desired.ts";
import { afterControllerExpand, decideResize } from "../csi/resizer/desired.ts";
import {
  createMismatch,
  decideAttach,
  decodePageToken,
  encodePageToken,
  paginate,
  parseCreateVolume,
  roundSize,
  RuleError,
  validateName,
} from "../mod/lightningstor/rules.ts";
import { parseConnectionInfo } from "../mod/lightningstor/loop.ts";
import type { KubeObject } from "../mod/kube/api.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (e instanceof CsiRuleError) return e.code;
    if (e instanceof UnsupportedCapability) return "unsupported";
    throw e;
  }
  return "ok";
};

Deno.test("capability parsing: kinds, modes, fs types, flags", () => {
  assert.deepEqual(
    parseCapability({
      mount: { fs_type: "xfs", mount_flags: ["noatime"] },
      access_mode: { mode: "SINGLE_NODE_WRITER" },
    }),
    {
      kind: "mount",
      fsType: "xfs",
      mountFlags: ["noatime"],
      mode: "SINGLE_NODE_WRITER",
    },
  );
  assert.equal(
    parseCapability({
      access_type: "block",
      block: {},
      access_mode: { mode: "MULTI_NODE_READER_ONLY" },
    }).kind,
    "block",
  );
  assert.equal(code(() => parseCapability(null)), Code.INVALID_ARGUMENT);
  assert.equal(
    code(() => parseCapability({ access_mode: { mode: "SINGLE_NODE_WRITER" } })),
    Code.INVALID_ARGUMENT,
  );
  assert.equal(
    code(() => parseCapability({ mount: {}, access_mode: { mode: "UNKNOWN" } })),
    Code.INVALID_ARGUMENT,
  );
  assert.equal(
    code(() => parseCapability({ mount: {}, access_mode: { mode: "BOGUS" } })),
    Code.INVALID_ARGUMENT,
  );
  assert.equal(
    code(() => parseCapability({ mount: {}, access_mode: { mode: "MULTI_NODE_MULTI_WRITER" } })),
    "unsupported",
  );
  assert.equal(
    code(() =>
      parseCapability({ mount: { fs_type: "btrfs" }, access_mode: { mode: "SINGLE_NODE_WRITER" } })
    ),
    "unsupported",
  );
  assert.equal(
    code(() =>
      parseCapability({
        mount: { mount_flags: ["a b"] },
        access_mode: { mode: "SINGLE_NODE_WRITER" },
      })
    ),
    Code.INVALID_ARGUMENT,
  );
  assert.equal(
    code(() =>
      parseCapability({
        mount: { volume_mount_group: "1000" },
        access_mode: { mode: "SINGLE_NODE_WRITER" },
      })
    ),
    "unsupported",
  );
});

Deno.test("capacity ranges: rounding, defaults, limits", () => {
  const o = { defaultBytes: GiB, unit: MiB, maxBytes: 16 * GiB };
  assert.equal(sizeForRange(undefined, o), GiB);
  assert.equal(sizeForRange({ required_bytes: "1" }, o), MiB);
  assert.equal(sizeForRange({ required_bytes: String(MiB + 1) }, o), 2 * MiB);
  assert.equal(
    sizeForRange({ limit_bytes: String(100 * MiB) }, o),
    100 * MiB,
    "limit below default",
  );
  assert.equal(sizeForRange({ required_bytes: String(GiB), limit_bytes: String(GiB) }, o), GiB);
  assert.equal(
    code(() => sizeForRange({ required_bytes: String(MiB + 1), limit_bytes: String(MiB + 2) }, o)),
    Code.OUT_OF_RANGE,
  );
  assert.equal(
    code(() => sizeForRange({ required_bytes: "5", limit_bytes: "4" }, o)),
    Code.INVALID_ARGUMENT,
  );
  assert.equal(code(() => sizeForRange({ required_bytes: "-1" }, o)), Code.INVALID_ARGUMENT);
  assert.equal(
    code(() => sizeForRange({ required_bytes: String(17 * GiB) }, o)),
    Code.OUT_OF_RANGE,
  );
});

Deno.test("storage class parameters", () => {
  assert.deepEqual(parseParameters({}), {
    volumeType: "ssd",
    replicationFactor: 1,
    orgId: "",
    projectId: "",
  });
  assert.deepEqual(
    parseParameters({
      type: "hdd",
      replication: "3",
      org_id: "org-1",
      project_id: "p.2",
      "csi.storage.k8s.io/fstype": "xfs",
    }),
    {
      volumeType: "hdd",
      replicationFactor: 3,
      orgId: "org-1",
      projectId: "p.2",
    },
  );
  const bads: Record<string, string>[] = [
    { type: "nvme" },
    { replication: "0" },
    { replication: "6" },
    { org_id: "-x" },
    { zone: "a" },
  ];
  for (const bad of bads) {
    assert.equal(code(() => parseParameters(bad)), Code.INVALID_ARGUMENT, JSON.stringify(bad));
  }
});

Deno.test("topology requirements against where the backend can place volumes", () => {
  const offered = topologySegments("n1", "z1");
  const t = (s: Record<string, string>) => ({ segments: s });
  assert.equal(code(() => checkAccessibility(undefined, offered)), "ok");
  assert.equal(
    code(() =>
      checkAccessibility({
        requisite: [
          t({ "topology.stor.plasmacloud.io/node": "n2" }),
          t({ "topology.stor.plasmacloud.io/node": "n1" }),
        ],
      }, offered)
    ),
    "ok",
  );
  assert.equal(
    code(() =>
      checkAccessibility({ requisite: [t({ "topology.stor.plasmacloud.io/node": "n2" })] }, offered)
    ),
    Code.RESOURCE_EXHAUSTED,
  );
  assert.equal(
    code(() =>
      checkAccessibility({ preferred: [t({ "topology.stor.plasmacloud.io/zone": "z9" })] }, offered)
    ),
    Code.RESOURCE_EXHAUSTED,
  );
  assert.equal(
    code(() => checkAccessibility({ requisite: [t({ "other.io/rack": "r1" })] }, offered)),
    "ok",
    "foreign keys do not constrain",
  );
});

Deno.test("path syntax confinement", () => {
  const roots = ["/var/lib/kubelet"];
  assert.equal(
    checkPathSyntax("/var/lib/kubelet/pods/x/mount/", roots, "p"),
    "/var/lib/kubelet/pods/x/mount",
  );
  for (
    const bad of [
      "",
      "rel/x",
      "/var/lib/kubelet",
      "/var/lib/kubeletx/y",
      "/var/lib/kubelet/../etc",
      "/var/lib/kubelet/./a",
      "/var/lib/kubelet//a",
      "/etc/passwd",
      "/var/lib/kubelet/a\0b",
    ]
  ) {
    assert.throws(() => checkPathSyntax(bad, roots, "p"), PathError, JSON.stringify(bad));
  }
});

Deno.test("in-flight locks are all-or-nothing and released once", () => {
  const l = new InFlight();
  const a = l.tryAcquire("v1", "name:x")!;
  assert.ok(a);
  assert.equal(l.tryAcquire("v1"), undefined);
  assert.equal(l.tryAcquire("v2", "name:x"), undefined);
  const b = l.tryAcquire("v2")!;
  a();
  a();
  assert.equal(l.size(), 1);
  assert.ok(l.tryAcquire("v1"));
  b();
});

Deno.test("mountinfo parsing, escapes and device binds", () => {
  const text = [
    "24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=1k",
    "90 27 7:3 / /var/lib/kubelet/plugins/x/globalmount rw,relatime shared:1 - ext4 /dev/loop3 rw",
    "91 27 7:3 / /var/lib/kubelet/pods/a\\040b/mount ro,relatime - ext4 /dev/loop3 rw",
    "92 27 0:6 /loop3 /var/lib/kubelet/pods/c/dev rw - devtmpfs devtmpfs rw",
  ].join("\n");
  const m = parseMountinfo(text);
  assert.equal(m.length, 4);
  assert.equal(m[1].source, "/dev/loop3");
  assert.equal(m[1].fsType, "ext4");
  assert.equal(m[2].mountPoint, "/var/lib/kubelet/pods/a b/mount");
  assert.ok(m[2].options.includes("ro"));
  assert.ok(isDeviceBind(m[3], "/dev/loop3"));
  assert.ok(!isDeviceBind(m[3], "/dev/loop30"));
});

Deno.test("quantities", () => {
  assert.equal(parseQuantity("10Gi"), 10 * GiB);
  assert.equal(parseQuantity("500M"), 500e6);
  assert.equal(parseQuantity("1.5Gi"), 1.5 * GiB);
  assert.equal(parseQuantity("2e9"), 2e9);
  assert.equal(parseQuantity("1024"), 1024);
  assert.equal(parseQuantity("0.1"), 1, "rounded up");
  for (const bad of ["", "1Gb", "-1Gi", "Gi", "1 Gi"]) assert.throws(() => parseQuantity(bad));
  assert.equal(formatQuantity(3 * GiB), "3Gi");
  assert.equal(formatQuantity(64 * MiB), "64Mi");
  assert.equal(formatQuantity(1000), "1000");
});

const sc = (extra: Record<string, unknown> = {}): KubeObject => ({
  metadata: { name: "fast" },
  provisioner: "stor.plasmacloud.io",
  parameters: {
    type: "ssd",
    "csi.storage.k8s.io/fstype": "xfs",
    "csi.storage.k8s.io/pvc/name": "x",
  },
  ...extra,
});
const pvc = (
  extra: Record<string, unknown> = {},
  meta: Record<string, unknown> = {},
): KubeObject => ({
  metadata: { name: "data", namespace: "ns", uid: "u-1", ...meta },
  spec: {
    accessModes: ["ReadWriteOnce"],
    storageClassName: "fast",
    resources: { requests: { storage: "2Gi" } },
    ...extra,
  },
});
const opts = { driverName: "stor.plasmacloud.io", defaultFsType: "ext4" };

Deno.test("provisioner: which claims get a volume, and the request", () => {
  const d = decideClaim(pvc(), sc(), false, opts);
  assert.equal(d.action, "provision");
  if (d.action !== "provision") return;
  assert.equal(d.pvName, "pvc-u-1");
  assert.deepEqual(d.request.parameters, { type: "ssd" }, "CO parameters stripped");
  assert.deepEqual(d.request.capacity_range, { required_bytes: String(2 * GiB), limit_bytes: "0" });
  assert.deepEqual(d.request.volume_capabilities, [{
    mount: { fs_type: "xfs", mount_flags: [] },
    access_mode: { mode: "SINGLE_NODE_WRITER" },
  }]);
  assert.equal(d.request.accessibility_requirements, undefined);
  const skip = (p: KubeObject, s: KubeObject | undefined, exists = false) => {
    const r = decideClaim(p, s, exists, opts);
    return r.action === "skip" ? r.reason : "provision";
  };
  assert.match(skip(pvc(), sc({ provisioner: "other" })), /not this driver/);
  assert.match(skip(pvc(), undefined), /not found/);
  assert.match(skip(pvc({ volumeName: "pv" }), sc()), /bound/);
  assert.match(skip(pvc(), sc(), true), /already/);
  assert.match(skip(pvc({}, { deletionTimestamp: "t" }), sc()), /deleted/);
  assert.match(skip(pvc(), sc({ volumeBindingMode: "WaitForFirstConsumer" })), /first consumer/);
  assert.match(
    skip(pvc({ dataSource: { kind: "VolumeSnapshot", name: "s" } }), sc()),
    /not supported/,
  );
  assert.match(
    skip(pvc({ dataSource: { kind: "PersistentVolumeClaim", name: "src" } }), sc()),
    /not bound/,
  );
  const wffc = decideClaim(
    pvc({}, { annotations: { "volume.kubernetes.io/selected-node": "n1" } }),
    sc({ volumeBindingMode: "WaitForFirstConsumer" }),
    false,
    opts,
  );
  assert.equal(wffc.action, "provision");
  if (wffc.action === "provision") {
    assert.deepEqual(wffc.request.accessibility_requirements, {
      requisite: [{ segments: { "topology.stor.plasmacloud.io/node": "n1" } }],
      preferred: [{ segments: { "topology.stor.plasmacloud.io/node": "n1" } }],
    });
  }
  const clone = decideClaim(
    pvc({ dataSource: { kind: "PersistentVolumeClaim", name: "src" } }),
    sc(),
    false,
    opts,
    "vol-x",
  );
  assert.equal(
    clone.action === "provision" && JSON.stringify(clone.request.volume_content_source),
    '{"volume":{"volume_id":"vol-x"}}',
  );
  assert.deepEqual(capabilitiesFor(["ReadOnlyMany"], "Block", "ext4", []), [{
    block: {},
    access_mode: { mode: "MULTI_NODE_READER_ONLY" },
  }]);
  assert.deepEqual(driverParameters({ a: "1", "csi.storage.k8s.io/x": "2" }), { a: "1" });
});

Deno.test("provisioner: a claim's volume carries its namespace's tenant", () => {
  const ns = (labels?: Record<string, string>): KubeObject => ({
    metadata: { name: "project-p1", ...(labels ? { labels } : {}) },
  });
  const tenantNs = ns({
    "plasmacloud.io/org-id": "org-1",
    "plasmacloud.io/project-id": "p1",
    "plasmacloud.io/tenant-type": "project",
  });
  // A class without tenant ids: the namespace's are filled in, the other parameters kept.
  assert.deepEqual(withTenant({ type: "hdd" }, tenantNs), {
    ok: true,
    parameters: { type: "hdd", org_id: "org-1", project_id: "p1" },
  });
  // A class naming the same tenant is fine; naming it partly is completed.
  assert.deepEqual(withTenant({ org_id: "org-1", project_id: "p1" }, tenantNs), {
    ok: true,
    parameters: { org_id: "org-1", project_id: "p1" },
  });
  assert.deepEqual(withTenant({ org_id: "org-1" }, tenantNs), {
    ok: true,
    parameters: { org_id: "org-1", project_id: "p1" },
  });
  // A class naming another tenant (org or project) is refused, never silently used.
  for (
    const other of [
      { org_id: "org-2" },
      { project_id: "p2" },
      { org_id: "", project_id: "p1" },
    ] as Record<string, string>[]
  ) {
    const r = withTenant(other, tenantNs);
    assert.equal(r.ok, false, JSON.stringify(other));
    if (!r.ok) assert.match(r.reason, /does not match namespace project-p1's tenant/);
  }
  // An org-only namespace: a class may not pick a project for it.
  const orgOnly = ns({ "plasmacloud.io/org-id": "org-1" });
  assert.deepEqual(withTenant({}, orgOnly), { ok: true, parameters: { org_id: "org-1" } });
  assert.equal(withTenant({ project_id: "p9" }, orgOnly).ok, false);
  // Platform namespaces (no tenant labels) keep what the class says, including nothing.
  assert.deepEqual(withTenant({ org_id: "ops", project_id: "infra" }, ns()), {
    ok: true,
    parameters: { org_id: "ops", project_id: "infra" },
  });
  assert.deepEqual(withTenant({ type: "ssd" }, ns({ team: "x" })), {
    ok: true,
    parameters: { type: "ssd" },
  });
  // The request decideClaim builds feeds straight in.
  const d = decideClaim(pvc(), sc(), false, opts);
  assert.ok(d.action === "provision");
  assert.deepEqual(withTenant(d.request.parameters as Record<string, string>, tenantNs), {
    ok: true,
    parameters: { type: "ssd", org_id: "org-1", project_id: "p1" },
  });
});

Deno.test("provisioner: the PV for a volume, and reclaim decisions", () => {
  const vol = {
    capacity_bytes: String(2 * GiB),
    volume_id: "vol-1",
    volume_context: { type: "ssd" },
    accessible_topology: [{ segments: { "topology.stor.plasmacloud.io/node": "n1" } }],
  };
  const pv = persistentVolume(pvc(), sc({ reclaimPolicy: "Retain" }), vol, opts);
  assert.equal(pv.metadata.name, "pvc-u-1");
  assert.deepEqual(pv.metadata.finalizers, []);
  assert.equal(pv.spec.capacity.storage, "2Gi");
  assert.equal(pv.spec.persistentVolumeReclaimPolicy, "Retain");
  assert.equal(pv.spec.csi.fsType, "xfs");
  assert.deepEqual(pv.spec.claimRef, {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    namespace: "ns",
    name: "data",
    uid: "u-1",
    resourceVersion: undefined,
  });
  assert.deepEqual(pv.spec.nodeAffinity.required.nodeSelectorTerms, [{
    matchExpressions: [{
      key: "topology.stor.plasmacloud.io/node",
      operator: "In",
      values: ["n1"],
    }],
  }]);
  const del = persistentVolume(pvc({ volumeMode: "Block" }), sc(), vol, opts);
  assert.equal(del.spec.volumeMode, "Block");
  assert.equal(del.spec.csi.fsType, undefined);
  assert.deepEqual(del.metadata.finalizers, [
    "external-provisioner.volume.kubernetes.io/finalizer",
  ]);

  const claim = pvc();
  assert.equal(decideVolume(del, claim, opts.driverName).action, "keep");
  assert.deepEqual(decideVolume(del, undefined, opts.driverName), {
    action: "delete-volume",
    volumeHandle: "vol-1",
    deletePv: true,
  });
  assert.equal(
    decideVolume(del, pvc({}, { uid: "other" }), opts.driverName).action,
    "delete-volume",
    "claim recreated",
  );
  assert.equal(decideVolume(pv, undefined, opts.driverName).action, "keep", "Retain");
  assert.equal(
    decideVolume(
      { ...del, metadata: { ...del.metadata, annotations: {} } },
      undefined,
      opts.driverName,
    ).action,
    "keep",
  );
  const dying = { ...del, metadata: { ...del.metadata, deletionTimestamp: "t" } };
  assert.deepEqual(decideVolume(dying, claim, opts.driverName), {
    action: "delete-volume",
    volumeHandle: "vol-1",
    deletePv: false,
  });
  const dyingRetain = {
    ...pv,
    metadata: {
      ...pv.metadata,
      deletionTimestamp: "t",
      finalizers: ["external-provisioner.volume.kubernetes.io/finalizer"],
    },
  };
  assert.deepEqual(decideVolume(dyingRetain, undefined, opts.driverName), {
    action: "release-finalizer",
  });
});

Deno.test("attacher: node ids, publish request, node-gone clock", () => {
  assert.equal(attacherFinalizer("stor.plasmacloud.io"), "external-attacher/stor-plasmacloud-io");
  assert.equal(nodeIdFor("n1", undefined, "d"), "n1");
  assert.equal(
    nodeIdFor("n1", { metadata: {}, spec: { drivers: [{ name: "d", nodeID: "id-1" }] } }, "d"),
    "id-1",
  );
  const pv: KubeObject = {
    metadata: { name: "pv" },
    spec: {
      accessModes: ["ReadOnlyMany"],
      csi: { volumeHandle: "vol-1", fsType: "ext4", readOnly: true, volumeAttributes: { a: "b" } },
    },
  };
  assert.deepEqual(publishRequest(pv, "n1"), {
    volume_id: "vol-1",
    node_id: "n1",
    readonly: true,
    volume_context: { a: "b" },
    volume_capability: {
      mount: { fs_type: "ext4", mount_flags: [] },
      access_mode: { mode: "MULTI_NODE_READER_ONLY" },
    },
  });
  const va = (since?: string): KubeObject => ({
    metadata: {
      name: "va",
      annotations: since ? { "stor.plasmacloud.io/node-missing-since": since } : {},
    },
  });
  const t0 = Date.parse("2026-01-01T00:00:00Z");
  assert.deepEqual(decideNodeGone(va(), true, t0, 1000), { action: "none" });
  assert.deepEqual(decideNodeGone(va("2026-01-01T00:00:00Z"), true, t0, 1000), {
    action: "clear-mark",
  });
  assert.deepEqual(decideNodeGone(va(), false, t0, 1000), {
    action: "mark",
    since: "2026-01-01T00:00:00.000Z",
    recheckMs: 1000,
  });
  assert.deepEqual(decideNodeGone(va("2026-01-01T00:00:00Z"), false, t0 + 400, 1000), {
    action: "wait",
    recheckMs: 600,
  });
  assert.deepEqual(decideNodeGone(va("2026-01-01T00:00:00Z"), false, t0 + 1000, 1000), {
    action: "force-detach",
    missingForMs: 1000,
  });
});

Deno.test("resizer: when to expand and the statuses after", () => {
  const pv: KubeObject = {
    metadata: { name: "pv" },
    spec: {
      capacity: { storage: "1Gi" },
      accessModes: ["ReadWriteOnce"],
      csi: { driver: "d", volumeHandle: "vol-1", fsType: "ext4" },
    },
  };
  const claim = (size: string) =>
    pvc({ volumeName: "pv", resources: { requests: { storage: size } } });
  const grow = { metadata: { name: "sc" }, allowVolumeExpansion: true };
  assert.equal(decideResize(claim("1Gi"), pv, grow, "d").action, "skip");
  assert.equal(decideResize(pvc(), pv, grow, "d").action, "skip", "unbound");
  assert.equal(decideResize(claim("2Gi"), pv, { metadata: { name: "sc" } }, "d").action, "refuse");
  assert.equal(decideResize(claim("2Gi"), pv, grow, "other").action, "skip");
  const d = decideResize(claim("2Gi"), pv, grow, "d");
  assert.equal(d.action, "expand");
  if (d.action === "expand") {
    assert.deepEqual(d.request.capacity_range, { required_bytes: String(2 * GiB) });
  }
  const now = new Date("2026-01-01T00:00:00Z");
  const pending = afterControllerExpand(claim("2Gi"), 2 * GiB, true, now);
  assert.deepEqual(pending.pvPatch, { spec: { capacity: { storage: "2Gi" } } });
  assert.equal(pending.pvcStatus.allocatedResourceStatuses?.storage, "NodeResizePending");
  assert.equal(pending.pvcStatus.conditions[0].type, "FileSystemResizePending");
  const done = afterControllerExpand(claim("2Gi"), 2 * GiB, false, now);
  assert.deepEqual((done.pvcStatus as { capacity: unknown }).capacity, { storage: "2Gi" });
});

Deno.test("lightningstor rules: names, creates, attach decisions, page tokens", () => {
  assert.throws(() => validateName("", "name"), RuleError);
  assert.throws(() => validateName("a\u0001b", "name"), RuleError);
  assert.equal(validateName("pvc-x y", "name"), "pvc-x y");
  assert.equal(roundSize(1), MiB);
  const want = parseCreateVolume({ name: "v", size_bytes: "1000" }, { maxBytes: GiB });
  assert.equal(want.sizeBytes, MiB);
  assert.equal(want.volumeType, "ssd");
  assert.throws(
    () => parseCreateVolume({ name: "v", size_bytes: String(2 * GiB) }, { maxBytes: GiB }),
    (e) => e instanceof RuleError && e.kind === "range",
  );
  assert.throws(
    () =>
      parseCreateVolume({
        name: "v",
        size_bytes: "1",
        source_snapshot_id: "a",
        source_volume_id: "b",
      }, { maxBytes: GiB }),
    RuleError,
  );
  const rec = { ...want, id: "vol-1", createdAt: "", hostNode: "n" };
  assert.equal(createMismatch(rec, want), undefined);
  assert.match(createMismatch(rec, { ...want, sizeBytes: 2 * MiB })!, /size/);
  assert.match(createMismatch(rec, { ...want, orgId: "o" })!, /tenant/);
  const att = (
    node: string,
    mode: "read-write" | "read-only" = "read-write",
    multiNode = false,
  ) => ({ id: "att", volumeId: "v", nodeId: node, attachMode: mode, multiNode, createdAt: "" });
  const req = (
    node: string,
    mode: "read-write" | "read-only" = "read-write",
    multiNode = false,
  ) => ({ volumeId: "v", nodeId: node, mode, multiNode });
  assert.equal(decideAttach([], req("n1"), 0, 2), undefined);
  assert.equal(decideAttach([att("n1")], req("n1"), 1, 2)?.nodeId, "n1");
  assert.throws(
    () => decideAttach([att("n1")], req("n1", "read-only"), 1, 2),
    (e) => e instanceof RuleError && e.kind === "exists",
  );
  assert.throws(
    () => decideAttach([att("n1")], req("n2"), 0, 2),
    (e) => e instanceof RuleError && e.kind === "precondition",
  );
  assert.equal(
    decideAttach([att("n1", "read-only", true)], req("n2", "read-only", true), 0, 2),
    undefined,
  );
  assert.throws(
    () => decideAttach([], req("n1"), 2, 2),
    (e) => e instanceof RuleError && e.kind === "exhausted",
  );
  const items = ["vol-00000000000000000003", "vol-00000000000000000001", "vol-00000000000000000002"]
    .map((id) => ({ id }));
  const p1 = paginate(items, 2, "");
  assert.deepEqual(p1.page.map((i) => i.id), [
    "vol-00000000000000000001",
    "vol-00000000000000000002",
  ]);
  assert.equal(decodePageToken(p1.next), "vol-00000000000000000002");
  assert.deepEqual(paginate(items, 2, p1.next), {
    page: [{ id: "vol-00000000000000000003" }],
    next: "",
  });
  assert.deepEqual(
    paginate(items.slice(0, 1), 0, encodePageToken("vol-00000000000000000002")).page,
    [{ id: "vol-00000000000000000003" }],
  );
  assert.throws(
    () => paginate(items, 1, "invalid-token"),
    (e) => e instanceof RuleError && e.kind === "aborted",
  );
  assert.throws(() => paginate(items, -1, ""), RuleError);
});

Deno.test("loop connection info is validated", () => {
  assert.deepEqual(
    parseConnectionInfo('{"transport":"loop","backingFile":"/d/v.img","readOnly":true}'),
    {
      transport: "loop",
      backingFile: "/d/v.img",
      readOnly: true,
    },
  );
  assert.throws(() => parseConnectionInfo("{"));
  assert.throws(
    () => parseConnectionInfo('{"transport":"nbd","backingFile":"/x"}'),
    /unsupported transport/,
  );
  assert.throws(() => parseConnectionInfo('{"transport":"loop","backingFile":"rel"}'));
});
