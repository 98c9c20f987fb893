/**
 * Where a cluster is and how to authenticate to it: a kubeconfig file (parsed by
 * @kubernetes/client-node's KubeConfig), the in-cluster service account, or the kubeconfig the
 * supervised k3s writes into the data dir.
 */
import { KubeConfig } from "@kubernetes/client-node";

export interface ClusterAccess {
  /** `https://host:port` (no trailing slash). */
  server: string;
  /** PEM of the CA that signs the server certificate. */
  caPem?: string;
  /** Client certificate and key (PEM), e.g. k3s admin kubeconfig. */
  certPem?: string;
  keyPem?: string;
  /** Static bearer token. */
  token?: string;
  /** Token re-read from this file (projected service-account tokens rotate). */
  tokenFile?: string;
  /** Where this came from, for error messages. */
  source: string;
}

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

function readText(path: string, what: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    throw new Error(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

function b64(data: string): string {
  return new TextDecoder().decode(Uint8Array.from(atob(data.trim()), (c) => c.charCodeAt(0)));
}

/** Loads the current context of a kubeconfig file. */
export function loadKubeconfigFile(path: string, context?: string): ClusterAccess {
  const kc = new KubeConfig();
  try {
    kc.loadFromString(readText(path, "kubeconfig"));
  } catch (e) {
    throw new Error(`invalid kubeconfig ${path}: ${(e as Error).message}`);
  }
  if (context) kc.setCurrentContext(context);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`kubeconfig ${path}: no cluster for the current context`);
  if (!/^https?:\/\//.test(cluster.server)) {
    throw new Error(`kubeconfig ${path}: cluster server "${cluster.server}" is not an http(s) URL`);
  }
  const user = kc.getCurrentUser();
  const rel = (p: string) => p.startsWith("/") ? p : `${path.replace(/[^/]*$/, "")}${p}`;
  const access: ClusterAccess = { server: cluster.server.replace(/\/+$/, ""), source: path };
  if (cluster.caData) access.caPem = b64(cluster.caData);
  else if (cluster.caFile) access.caPem = readText(rel(cluster.caFile), "certificate-authority");
  if (user?.certData) access.certPem = b64(user.certData);
  else if (user?.certFile) access.certPem = readText(rel(user.certFile), "client-certificate");
  if (user?.keyData) access.keyPem = b64(user.keyData);
  else if (user?.keyFile) access.keyPem = readText(rel(user.keyFile), "client-key");
  if (user?.token) access.token = user.token;
  // deno-lint-ignore no-explicit-any
  const tokenFile = (user as any)?.authProvider?.config?.tokenFile ?? (user as any)?.tokenFile;
  if (!access.token && typeof tokenFile === "string") access.tokenFile = rel(tokenFile);
  if ((access.certPem === undefined) !== (access.keyPem === undefined)) {
    throw new Error(`kubeconfig ${path}: client certificate and key must be given together`);
  }
  return access;
}

/** The service account mounted into a pod (KUBERNETES_SERVICE_HOST/PORT + token + CA). */
export function loadInCluster(
  env: { get(k: string): string | undefined } = Deno.env,
  dir = SERVICE_ACCOUNT_DIR,
): ClusterAccess {
  const host = env.get("KUBERNETES_SERVICE_HOST");
  const port = env.get("KUBERNETES_SERVICE_PORT");
  if (!host || !port) {
    throw new Error("not in a cluster: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT unset");
  }
  const h = host.includes(":") ? `[${host}]` : host;
  readText(`${dir}/token`, "service account token");
  return {
    server: `https://${h}:${port}`,
    caPem: readText(`${dir}/ca.crt`, "service account CA"),
    tokenFile: `${dir}/token`,
    source: `in-cluster (${dir})`,
  };
}

/** The admin kubeconfig the supervised k3s writes (`--write-kubeconfig`). */
export function k3sKubeconfigPath(dataDir: string): string {
  return `${dataDir.replace(/\/+$/, "")}/kubeconfig.yaml`;
}

/** A kubeconfig file's text for a server, a CA and an optional token (tests, standalone). */
export function renderKubeconfig(opts: {
  server: string;
  caPem?: string;
  token?: string;
  name?: string;
}): string {
  const name = opts.name ?? "k8shost";
  const ca = opts.caPem ? `\n    certificate-authority-data: ${btoa(opts.caPem)}` : "";
  const user = opts.token ? `\n    token: ${opts.token}` : " {}";
  return `apiVersion: v1
kind: Config
clusters:
- name: ${name}
  cluster:
    server: ${opts.server}${ca}
users:
- name: ${name}
  user:${user}
contexts:
- name: ${name}
  context:
    cluster: ${name}
    user: ${name}
current-context: ${name}
`;
}
