/**
 * Server side of bench/webhook_load.ts: runs the real webhook part (HTTPS + mTLS) with the
 * config given as JSON in argv[0], prints `READY <port>` and serves until stdin closes.
 */
import { configureLogging, logger } from "../mod/log/mod.ts";
import { Registry } from "../mod/metrics/mod.ts";
import { WebhookPart } from "../mod/iam/part.ts";
import { lagMonitor } from "./event_loop_lag.ts";
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
// Longest event-loop pause since the last snapshot: GC or anything else that stops the webhook
// between handlers, which its own latency histogram cannot see.
const lag = lagMonitor();
console.log(`READY ${part.port}`);
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
    for (const l of metrics.render().split("\n")) {
      const m = /_duration_seconds_bucket\{result="authenticated",le="([^"]+)"\} (\d+)/.exec(l);
      if (m) buckets[m[1]] = Number(m[2]);
    }
    console.log(`SNAP ${JSON.stringify({ ...buckets, pause: lag.worst() })}`);
    lag.reset();
  }
}
lag.stop();
await part.stop();
