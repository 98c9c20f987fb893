/**
 * Server side of bench/webhook_load.ts: runs the real webhook part (HTTPS + mTLS) with the
 * config given as JSON in argv[0], prints `READY <port>` and serves until stdin closes.
 * With `control` as argv[1] the port printed is instead a control server: the same HTTPS
 * server code and certificates, with an authenticator that answers every review at once, so
 * what its rows show is the HTTPS stack and the machine, not token verification.
 */
import { configureLogging, logger } from "../mod/log/mod.ts";
import { Registry } from "../mod/metrics/mod.ts";
import { WebhookPart } from "../mod/iam/part.ts";
import { lagMonitor } from "./event_loop_lag.ts";
import type { Authenticator } from "../mod/iam/authenticator.ts";
import { webhookMetrics } from "../mod/iam/metrics.ts";
import { type RunningWebhook, startWebhookServer } from "../mod/iam/server.ts";
import { ensureWebhookFiles } from "../mod/iam/webhook_files.ts";
import { type Config, configSpec } from "../mod/config/spec.ts";
import { type ConfigIssue, validate } from "../mod/config/schema.ts";

configureLogging({ level: "warn" });
const issues: ConfigIssue[] = [];
const config = validate(configSpec, JSON.parse(Deno.args[0]), "", issues) as Config;
if (issues.length) throw new Error(JSON.stringify(issues));
const metrics = new Registry();
const part = new WebhookPart({
  config,
  role: "server",
  log: logger("bench"),
  metrics,
  nodeName: "bench",
});
await part.start(new AbortController().signal);
let control: RunningWebhook | undefined;
const controlMetrics = new Registry();
if (Deno.args[1] === "control") {
  const answer = {
    authenticated: true,
    user: { username: "control@bench", uid: "control", groups: ["system:authenticated"] },
  };
  const instant = {
    review: () => Promise.resolve({ answer, reason: "ok", cached: true, fingerprint: "control" }),
  } as unknown as Authenticator;
  const w = config.iam.webhook;
  control = await startWebhookServer({
    hostname: "127.0.0.1",
    port: 0,
    tls: (await ensureWebhookFiles(config, part.port)).tls,
    maxBodyBytes: w.maxBodyBytes,
    requestTimeoutMs: w.requestTimeout,
    authenticator: instant,
    log: logger("control"),
    metrics: webhookMetrics(controlMetrics),
  });
}
// Longest event-loop pause since the last snapshot: GC or anything else that stops the webhook
// between handlers, which its own latency histogram cannot see.
const lag = lagMonitor();
console.log(`READY ${control?.port ?? part.port}`);
// `snap` on stdin prints the server-side latency histogram (cumulative bucket counts of
// authenticated reviews); end of stdin stops the part.
const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
let pending = "";
for await (const chunk of lines) {
  pending += chunk;
  let nl;
  while ((nl = pending.indexOf("\n")) >= 0) {
    const cmd = pending.slice(0, nl).trim();
    pending = pending.slice(nl + 1);
    if (cmd !== "snap") continue;
    const buckets: Record<string, number> = {};
    for (const l of (control ? controlMetrics : metrics).render().split("\n")) {
      const m = /_duration_seconds_bucket\{result="authenticated",le="([^"]+)"\} (\d+)/.exec(l);
      if (m) buckets[m[1]] = Number(m[2]);
    }
    console.log(`SNAP ${JSON.stringify({ ...buckets, pause: lag.worst() })}`);
    lag.reset();
  }
}
lag.stop();
await control?.close();
await part.stop();
