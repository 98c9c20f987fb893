/** Hot paths of the supervisor: k3s log lines (k3s is chatty), the k3s argv, /readyz, sd_notify. */
import { validate } from "../mod/config/schema.ts";
import { type Config, configSpec } from "../mod/config/spec.ts";
import { healthHandler } from "../mod/health/server.ts";
import { sdNotify } from "../mod/health/notify.ts";
import { buildK3sArgs } from "../mod/k3s/args.ts";
import { parseK3sLine } from "../mod/k3s/logline.ts";
import { Registry } from "../mod/metrics/mod.ts";

const config = validate(configSpec, {}, "", []) as Config;
const LOGRUS =
  'time="2025-01-01T00:00:00Z" level=info msg="Running kube-apiserver --advertise-port=6443" node=a';
const KLOG = "I1121 05:50:00.123456    4242 controller.go:12] Starting reflector *v1.Pod (10m0s)";

Deno.bench("parseK3sLine: logrus line", () => {
  parseK3sLine(LOGRUS);
});
Deno.bench("parseK3sLine: klog line", () => {
  parseK3sLine(KLOG);
});
Deno.bench("buildK3sArgs: default server", () => {
  buildK3sArgs(config, { role: "server", nodeName: "node-a" });
});

const metrics = new Registry();
const checks = Array.from(
  { length: 10 },
  (_, i) => ({ name: `part/p${i}`, ready: () => true as const }),
);
const handler = healthHandler({ checks: () => checks, metrics });
Deno.bench("health: GET /readyz?verbose with 10 checks", async () => {
  await handler(new Request("http://127.0.0.1/readyz?verbose")).text();
});

const dir = Deno.makeTempDirSync({ prefix: "kh-sup-bench-" });
const code = `const s = Deno.listenDatagram({ transport: "unixpacket", path: ${
  JSON.stringify(`${dir}/n.sock`)
} });
console.log("up"); for await (const _ of s) {}`;
const rx = new Deno.Command(Deno.execPath(), {
  args: ["eval", "--unstable-net", code],
  stdout: "piped",
}).spawn();
const reader = rx.stdout.getReader();
await reader.read();
const env = new Map([["NOTIFY_SOCKET", `${dir}/n.sock`]]);
Deno.bench("sd_notify: STATUS= datagram via FFI", async () => {
  await sdNotify("STATUS=running", env);
});
globalThis.addEventListener("unload", () => {
  rx.kill("SIGKILL");
  Deno.removeSync(dir, { recursive: true });
});
