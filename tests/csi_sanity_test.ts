/**
 * The cases of the community conformance suite (kubernetes-csi/csi-test, pkg/sanity:
 * identity.go, controller.go, node.go), case for case, with csi-sanity's defaults (10 GiB
 * volumes, IdempotentCount 10, target `<TargetPath>/target`) and its cleanup rules (unpublish
 * and unstage may answer OK or NOT_FOUND). Run against one endpoint serving all three services
 * and against separate controller and node endpoints, as csi-sanity would be. The cases live in
 * tests/support/csi_sanity_{controller,node}.ts.
 */
import assert from "node:assert/strict";
import { blockCap, GiB, Status } from "./csi_harness.ts";
import { withHarness } from "./support/csi.ts";
import { expectCode, runCase, SNW, unique } from "./support/csi_sanity.ts";
import { controllerCases, identityCases, snapshotCases } from "./support/csi_sanity_controller.ts";
import { nodeCases } from "./support/csi_sanity_node.ts";

for (const split of [false, true]) {
  const layout = split ? "separate controller and node endpoints" : "one endpoint";
  Deno.test(`csi-sanity cases on ${layout}`, (t) =>
    withHarness(async (h) => {
      const suites = {
        Identity: identityCases,
        Controller: controllerCases,
        Snapshots: snapshotCases,
        Node: nodeCases,
      };
      for (const [suite, cases] of Object.entries(suites)) {
        for (const [name, fn] of Object.entries(cases)) {
          await t.step(`${suite}: ${name}`, () => runCase(h, fn));
        }
      }
    }, { split }));
}

Deno.test("csi-sanity: publishing more volumes than the node attach limit fails", () =>
  withHarness((h) =>
    runCase(h, async (r) => {
      const ni = await h.rpc(h.node, "NodeGetInfo");
      assert.equal(Number(ni.max_volumes_per_node), 2);
      for (let i = 0; i < 2; i++) {
        const v = await r.mustCreateVolume(unique(`sanity-max-attach-limit-vol-${i}`));
        await r.publish(v.volume.volume_id, ni.node_id);
      }
      const extra = await r.mustCreateVolume(unique("sanity-max-attach-limit-vol+1"));
      await expectCode(
        h.rpc(h.controller, "ControllerPublishVolume", {
          volume_id: extra.volume.volume_id,
          node_id: ni.node_id,
          volume_capability: SNW,
        }),
        Status.RESOURCE_EXHAUSTED,
      );
    }), { maxVolumes: 2 }));

Deno.test("csi-sanity style: block access type through the node service", () =>
  withHarness((h) =>
    runCase(h, async (r) => {
      const cap = blockCap();
      const v = await r.createVolume({ name: unique("sanity-block"), volume_capabilities: [cap] });
      const ni = await h.rpc(h.node, "NodeGetInfo");
      await r.publish(v.volume.volume_id, ni.node_id);
      await h.rpc(h.node, "NodeStageVolume", {
        volume_id: v.volume.volume_id,
        staging_target_path: r.staging,
        volume_capability: cap,
      });
      await h.rpc(h.node, "NodePublishVolume", {
        volume_id: v.volume.volume_id,
        staging_target_path: r.staging,
        target_path: r.target,
        volume_capability: cap,
      });
      const stats = await h.rpc(h.node, "NodeGetVolumeStats", {
        volume_id: v.volume.volume_id,
        volume_path: r.target,
      });
      assert.equal(Number(stats.usage[0].total), GiB);
      assert.equal(stats.usage[0].unit, "BYTES");
    })
  ));
