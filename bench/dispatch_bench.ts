/**
 * Start-up cost of each face, measured as a whole process (deno run main.ts), plus config
 * loading in-process. The CNI face should stay close to the bare `version` face.
 *   deno bench --allow-all bench/dispatch_bench.ts
 */
import { loadConfig } from "../mod/config/mod.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

function runMain(args: string[], env: Record<string, string> = {}) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-all", MAIN, ...args],
    env,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
}

Deno.bench("process: deno -e '' (floor)", { group: "startup", baseline: true }, async () => {
  await new Deno.Command(Deno.execPath(), { args: ["eval", ""], stdout: "null" }).output();
});
Deno.bench("process: k8shost version", { group: "startup" }, async () => {
  await runMain(["version"]);
});
Deno.bench("process: prismnet CNI_COMMAND=VERSION", { group: "startup" }, async () => {
  await runMain([], { CNI_COMMAND: "VERSION" });
});
Deno.bench("process: k8shost config check", { group: "startup" }, async () => {
  await runMain(["config", "check", "--config", "/dev/null"]);
});

const dir = Deno.makeTempDirSync({ prefix: "kh-bench-config-" });
const file = `${dir}/config.yaml`;
Deno.writeTextFileSync(
  file,
  'networking:\n  clusterCIDR: 10.50.0.0/16\nfiberlb:\n  pools: ["a=192.0.2.0/24"]\n',
);
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

Deno.bench("in-process: loadConfig (YAML file, env, --set, all checks)", async () => {
  await loadConfig({ file, env: { K8SHOST_LOG_LEVEL: "debug" }, set: ["prismnet.mtu=1450"] });
});
