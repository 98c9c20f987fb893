import assert from "node:assert/strict";
import { RESOURCES } from "../mod/kube/mod.ts";
import type { KubeObject } from "../mod/kube/api.ts";
import { startApiServerProcess } from "./support/apiserver/process.ts";

Deno.test("the test API server runs as its own process over HTTPS and stops cleanly", async () => {
  const s = await startApiServerProcess();
  try {
    assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const made = await s.api.create<KubeObject>(RESOURCES.configMaps, {
      metadata: { name: "cm", namespace: "default" },
      data: { a: "1" },
    });
    assert.ok(made.metadata.resourceVersion);
    const got = await s.api.get<KubeObject>(RESOURCES.configMaps, "cm", "default");
    assert.deepEqual(got.data, { a: "1" });
  } finally {
    await s.close();
  }
  // The port is closed once close() returns: the process is gone.
  const port = Number(new URL(s.url).port);
  await assert.rejects(
    () => Deno.connect({ hostname: "127.0.0.1", port }),
    Deno.errors.ConnectionRefused,
  );
});
