/**
 * Shared test helpers for the IAM webhook: a config in a temp data dir, the part started on
 * ephemeral ports, and TokenReview requests shaped exactly as kube-apiserver sends them.
 */
import { parse as parseYaml } from "yaml";
import { type Config, configSpec } from "../mod/config/spec.ts";
import { type ConfigIssue, validate } from "../mod/config/schema.ts";
import { type Fields, Logger, type LogLevel } from "../mod/log/mod.ts";
import { Registry } from "../mod/metrics/mod.ts";
import { WebhookPart } from "../mod/iam/part.ts";
import { WEBHOOK_PATH } from "../mod/iam/review.ts";

export function makeConfig(raw: Record<string, unknown>): Config {
  const issues: ConfigIssue[] = [];
  const config = validate(configSpec, raw, "", issues) as Config;
  if (issues.length) throw new Error(`bad test config: ${JSON.stringify(issues)}`);
  return config;
}

export async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "kh-iam-" });
}

/** Deep-merges `b` into `a` (plain objects only). */
export function merge(a: Record<string, unknown>, b: Record<string, unknown>) {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = typeof v === "object" && v !== null && !Array.isArray(v) &&
        typeof prev === "object" && prev !== null && !Array.isArray(prev)
      ? merge(prev as Record<string, unknown>, v as Record<string, unknown>)
      : v;
  }
  return out;
}

export interface RunningPart {
  part: WebhookPart;
  config: Config;
  metrics: Registry;
  dataDir: string;
  url: string;
  /** An HTTP client holding the generated kubeconfig's CA and client certificate. */
  apiserver: Deno.HttpClient;
  caPem: string;
  kubeconfig: Record<string, unknown>;
  logs: string[];
  stop(): Promise<void>;
}

/** Starts the webhook part in a fresh data dir on ephemeral ports. */
export async function startPart(iam: Record<string, unknown> = {}): Promise<RunningPart> {
  const dataDir = await tempDir();
  const config = makeConfig({
    dataDir,
    nodeName: "kh-iam-test-node",
    iam: merge({
      webhook: { listen: "127.0.0.1:0" },
      embedded: { listen: "127.0.0.1:0" },
    }, iam),
  });
  const metrics = new Registry();
  const logs: string[] = [];
  const log = new CapturingLogger("iam", logs);
  const part = new WebhookPart({
    config,
    role: "server",
    log,
    metrics,
    nodeName: "kh-iam-test-node",
  });
  try {
    await part.start(new AbortController().signal);
  } catch (err) {
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    throw err;
  }
  const kcPath = `${dataDir}/iam/webhook-kubeconfig.yaml`;
  const kubeconfig = parseYaml(await Deno.readTextFile(kcPath)) as Record<string, unknown>;
  // deno-lint-ignore no-explicit-any
  const kc = kubeconfig as any;
  const url = kc.clusters[0].cluster.server as string;
  const caFile = kc.clusters[0].cluster["certificate-authority"] as string | undefined;
  const caPem = caFile ? await Deno.readTextFile(caFile) : "";
  const user = kc.users[0].user;
  const apiserver = Deno.createHttpClient({
    caCerts: caPem ? [caPem] : undefined,
    cert: user["client-certificate"]
      ? await Deno.readTextFile(user["client-certificate"])
      : undefined,
    key: user["client-key"] ? await Deno.readTextFile(user["client-key"]) : undefined,
  });
  return {
    part,
    config,
    metrics,
    dataDir,
    url,
    apiserver,
    caPem,
    kubeconfig,
    logs,
    stop: async () => {
      apiserver.close();
      await part.stop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}

/** A Logger that keeps its lines in `lines` and prints nothing. */
export function capturingLogger(lines: string[] = []): Logger {
  return new CapturingLogger("kh-iam-test", lines);
}

/** A Logger that keeps every line (all levels) for assertions, and prints nothing. */
class CapturingLogger extends Logger {
  constructor(component: string, private readonly lines: string[], base: Fields = {}) {
    super(component, base);
  }
  override enabled(): boolean {
    return true;
  }
  override with(fields: Fields): Logger {
    return new CapturingLogger(this.component, this.lines, fields);
  }
  override child(component: string): Logger {
    return new CapturingLogger(`${this.component}.${component}`, this.lines);
  }
  override log(level: LogLevel, msg: string, fields?: Fields) {
    this.lines.push(
      JSON.stringify(
        { level, component: this.component, msg, ...fields },
        (_k, v) => v instanceof Error ? v.message : v,
      ),
    );
  }
}

export const APISERVER_AUDIENCES = ["https://kubernetes.default.svc.cluster.local", "k3s"];

/**
 * POSTs a TokenReview the way kube-apiserver's webhook authenticator (client-go rest client)
 * does: JSON body with empty metadata and status, `Accept: application/json, *\/*`.
 */
export async function review(
  url: string,
  client: Deno.HttpClient,
  token: string,
  opts: { apiVersion?: string; audiences?: string[] } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const body = JSON.stringify({
    kind: "TokenReview",
    apiVersion: opts.apiVersion ?? "authentication.k8s.io/v1",
    metadata: { creationTimestamp: null },
    spec: { token, audiences: opts.audiences ?? APISERVER_AUDIENCES },
    status: { user: {} },
  });
  const res = await fetch(url, {
    method: "POST",
    client,
    headers: {
      "content-type": "application/json",
      accept: "application/json, */*",
      "user-agent": "kube-apiserver/v1.31.4+k3s1 (linux/amd64) kubernetes/a6d5bd2",
    },
    body,
  });
  return { status: res.status, body: await res.json() };
}

/** A raw request to the webhook path (for malformed input tests). */
export async function rawPost(
  base: string,
  client: Deno.HttpClient,
  body: string | Uint8Array<ArrayBuffer>,
  headers: Record<string, string> = { "content-type": "application/json" },
  opts: { method?: string; path?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const u = new URL(base);
  if (opts.path !== undefined) u.pathname = opts.path;
  const res = await fetch(u, {
    method: opts.method ?? "POST",
    client,
    headers,
    body: opts.method === "GET" ? undefined : body,
  });
  return { status: res.status, body: await res.json() };
}

export { WEBHOOK_PATH };
