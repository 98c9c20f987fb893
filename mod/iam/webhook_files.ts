/**
 * What kube-apiserver needs to reach the webhook, prepared before k3s starts: the TLS material
 * (generated into `<dataDir>/iam/` unless configured) and the kubeconfig for
 * `--authentication-token-webhook-config-file` at `<dataDir>/iam/webhook-kubeconfig.yaml`.
 */
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import type { Config } from "../config/spec.ts";
import { isIp } from "../config/schema.ts";
import { readConfigured, readIfExists, writeFileAtomic } from "./files.ts";
import { iamDir } from "./issuer.ts";
import { ensureCa, ensureLeaf, type LeafSpec } from "./pki.ts";
import { WEBHOOK_PATH } from "./review.ts";
import type { WebhookTls } from "./server.ts";

export const CA_COMMON_NAME = "k8shost IAM webhook CA";
export const APISERVER_CLIENT_CN = "kube-apiserver-iam-webhook-client";

const WILDCARD = new Set(["", "0.0.0.0", "::", "[::]"]);

export function parseListen(listen: string): { hostname: string; port: number } {
  const i = listen.lastIndexOf(":");
  const host = listen.slice(0, i).replace(/^\[(.*)\]$/, "$1");
  const port = Number(listen.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`iam.webhook.listen: ${JSON.stringify(listen)} is not host:port`);
  }
  return { hostname: host === "" ? "0.0.0.0" : host, port };
}

/** The path k3s is given as --authentication-token-webhook-config-file. */
export function webhookKubeconfigPath(config: Pick<Config, "dataDir">): string {
  return join(iamDir(config), "webhook-kubeconfig.yaml");
}

/** The URL kube-apiserver calls; `port` overrides the configured one (listen port 0). */
export function webhookUrl(config: Config, port?: number): string {
  const w = config.iam.webhook;
  if (w.url !== "" && port === undefined) return w.url;
  const l = parseListen(w.listen);
  const host = WILDCARD.has(l.hostname) ? "127.0.0.1" : l.hostname;
  const shown = host.includes(":") ? `[${host}]` : host;
  return `${w.tls ? "https" : "http"}://${shown}:${port ?? l.port}${WEBHOOK_PATH}`;
}

/** Names the generated serving certificate covers. */
export function servingNames(config: Config): { dnsNames: string[]; ips: string[] } {
  const names = new Set<string>(["localhost", "127.0.0.1", "::1", ...config.iam.webhook.hosts]);
  const host = osHostname();
  if (host) names.add(host);
  if (config.nodeName) names.add(config.nodeName);
  const l = parseListen(config.iam.webhook.listen);
  if (!WILDCARD.has(l.hostname)) names.add(l.hostname);
  if (config.iam.webhook.url) {
    names.add(new URL(config.iam.webhook.url).hostname.replace(/^\[(.*)\]$/, "$1"));
  }
  const all = [...names].filter((n) => n !== "");
  return { dnsNames: all.filter((n) => !isIp(n)), ips: all.filter((n) => isIp(n)) };
}

export interface WebhookFiles {
  /** Undefined when iam.webhook.tls is off. */
  tls?: WebhookTls;
  kubeconfigPath: string;
  /** The CA kube-apiserver trusts for the webhook (kubeconfig certificate-authority). */
  caFile?: string;
  clientCertFile?: string;
  clientKeyFile?: string;
}

/** Idempotent: reuses what is valid, (re)generates what is missing or stale, rewrites the kubeconfig. */
export async function ensureWebhookFiles(config: Config, port?: number): Promise<WebhookFiles> {
  const w = config.iam.webhook;
  const dir = iamDir(config);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const kubeconfigPath = webhookKubeconfigPath(config);
  if (!w.tls) {
    await writeKubeconfig(kubeconfigPath, webhookUrl(config, port), {});
    return { kubeconfigPath };
  }
  const needCa = w.certFile === "" || w.clientCAFile === "";
  const ca = needCa ? await ensureCa(dir, CA_COMMON_NAME) : undefined;

  let certPem: string, keyPem: string, caFile: string;
  if (w.certFile !== "") {
    [certPem, keyPem] = await Promise.all([
      readConfigured(w.certFile, "iam.webhook.certFile"),
      readConfigured(w.keyFile, "iam.webhook.keyFile"),
    ]);
    caFile = w.caFile || w.certFile;
  } else {
    const spec: LeafSpec = {
      commonName: "k8shost-iam-webhook",
      usage: "server",
      ...servingNames(config),
    };
    ({ certPem, keyPem } = await ensureLeaf(dir, "webhook", ca!, spec));
    caFile = join(dir, "ca.crt");
  }

  let clientCaPem: string | undefined;
  let clientCertFile: string | undefined;
  let clientKeyFile: string | undefined;
  if (w.clientCAFile !== "") {
    clientCaPem = await readConfigured(w.clientCAFile, "iam.webhook.clientCAFile");
    if (w.apiserverCertFile === "" || w.apiserverKeyFile === "") {
      throw new Error(
        "iam.webhook.apiserverCertFile and apiserverKeyFile must name the apiserver's client certificate when iam.webhook.clientCAFile is set",
      );
    }
    clientCertFile = w.apiserverCertFile;
    clientKeyFile = w.apiserverKeyFile;
  } else {
    clientCaPem = ca!.certPem;
    const leaf = await ensureLeaf(dir, "apiserver-client", ca!, {
      commonName: APISERVER_CLIENT_CN,
      usage: "client",
    });
    clientCertFile = leaf.certPath;
    clientKeyFile = leaf.keyPath;
  }
  await writeKubeconfig(kubeconfigPath, webhookUrl(config, port), {
    caFile,
    clientCertFile,
    clientKeyFile,
  });
  return {
    tls: { certPem, keyPem, clientCaPem, requireClientCert: w.requireClientCert },
    kubeconfigPath,
    caFile,
    clientCertFile,
    clientKeyFile,
  };
}

export function renderKubeconfig(
  server: string,
  files: { caFile?: string; clientCertFile?: string; clientKeyFile?: string },
): string {
  const user: Record<string, string> = {};
  if (files.clientCertFile) user["client-certificate"] = files.clientCertFile;
  if (files.clientKeyFile) user["client-key"] = files.clientKeyFile;
  const cluster: Record<string, string> = { server };
  if (files.caFile) cluster["certificate-authority"] = files.caFile;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "iam-webhook", cluster }],
    users: [{ name: "k8s-apiserver", user }],
    "current-context": "webhook",
    contexts: [{ name: "webhook", context: { cluster: "iam-webhook", user: "k8s-apiserver" } }],
  });
}

async function writeKubeconfig(
  path: string,
  server: string,
  files: { caFile?: string; clientCertFile?: string; clientKeyFile?: string },
) {
  const text = renderKubeconfig(server, files);
  if ((await readIfExists(path)) === text) return;
  await writeFileAtomic(path, text, 0o600);
}
