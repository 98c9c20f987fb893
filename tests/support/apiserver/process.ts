/**
 * The test API server in a process of its own, as kube-apiserver is to the appliance: the
 * caller's controllers then pay for their own requests only, over real HTTPS. Used by the
 * benches, where sharing one event loop with the API server would halve what they measure.
 */
import { fileURLToPath } from "node:url";
import { createKubeApi, type KubeClient } from "../../../mod/kube/client.ts";

export interface ApiServerProcess {
  url: string;
  kubeconfigPath: string;
  api: KubeClient;
  close(): Promise<void>;
}

const STANDALONE = fileURLToPath(new URL("./standalone.ts", import.meta.url));

export async function startApiServerProcess(
  opts: { tls?: boolean } = {},
): Promise<ApiServerProcess> {
  const dir = await Deno.makeTempDir({ prefix: "kh-apiserver-" });
  const kubeconfigPath = `${dir}/kubeconfig`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      STANDALONE,
      "--kubeconfig-out",
      kubeconfigPath,
      ...(opts.tls === false ? ["--http"] : []),
    ],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const out = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/kubeconfig: /.test(text)) {
    const { value, done } = await out.read();
    if (done) {
      await child.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw new Error(`test API server exited before it was ready: ${text.trim()}`);
    }
    text += value;
  }
  // Keep draining so the child never blocks on a full pipe.
  (async () => {
    while (!(await out.read()).done) { /* discard */ }
  })().catch(() => {});
  const url = /listening on (\S+)/.exec(text)?.[1] ?? "";
  const api = createKubeApi(kubeconfigPath);
  return {
    url,
    kubeconfigPath,
    api,
    close: async () => {
      api.close();
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
