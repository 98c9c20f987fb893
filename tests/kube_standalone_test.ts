/** `deno task test-apiserver`: a separate process that writes a kubeconfig and serves it. */
import assert from "node:assert/strict";
import { createKubeApi } from "../mod/kube/client.ts";
import { RESOURCES } from "../mod/kube/resources.ts";
import { parseArgs } from "./support/apiserver/standalone.ts";

Deno.test("standalone: argument parsing", () => {
  assert.deepEqual(parseArgs([]), { port: 0, host: "127.0.0.1", tls: true });
  assert.deepEqual(
    parseArgs(["--port", "6443", "--http", "--token", "t", "--kubeconfig-out", "/x"]),
    {
      port: 6443,
      host: "127.0.0.1",
      tls: false,
      token: "t",
      kubeconfigOut: "/x",
    },
  );
  assert.throws(() => parseArgs(["--port", "99999"]), /not 0..65535/);
  assert.throws(() => parseArgs(["--port"]), /needs a value/);
  assert.throws(() => parseArgs(["--bogus"]), /unknown argument/);
});

Deno.test("standalone: serves HTTPS and writes a working kubeconfig; exits on SIGTERM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kh-kube-standalone-" });
  const script = new URL("./support/apiserver/standalone.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      script,
      "--port",
      "0",
      "--token",
      "s3cret",
      "--kubeconfig-out",
      `${dir}/kc.yaml`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  try {
    while (!out.includes("kubeconfig: ")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`standalone exited early: ${out}`);
      out += value;
    }
    assert.match(out, /listening on https:\/\/127\.0\.0\.1:\d+/);
    assert.ok(out.includes(`kubeconfig: ${dir}/kc.yaml`));
    assert.equal((await Deno.stat(`${dir}/kc.yaml`)).mode! & 0o777, 0o600);
    const api = createKubeApi(`${dir}/kc.yaml`);
    try {
      const ns = await api.list(RESOURCES.namespaces);
      assert.equal(ns.items.length, 4);
      await api.create(RESOURCES.configMaps, { metadata: { name: "hello", namespace: "default" } });
      assert.ok(await api.get(RESOURCES.configMaps, "hello", "default"));
    } finally {
      api.close();
    }
    child.kill("SIGTERM");
    const st = await child.status;
    assert.equal(st.code, 0);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await reader.cancel().catch(() => {});
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
});
