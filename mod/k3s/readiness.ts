/**
 * "k3s is ready" means: its kubeconfig has been written, and `/readyz` answers 200 when asked
 * with that kubeconfig's own server URL, CA and credentials — exactly what the parts will use.
 */
import { loadKubeconfigFile } from "../kube/kubeconfig.ts";

/** true, or why not (for logs and /readyz). */
export async function probeReadyz(kubeconfig: string, timeoutMs = 5000): Promise<true | string> {
  try {
    await Deno.stat(kubeconfig);
  } catch {
    return `kubeconfig ${kubeconfig} not written yet`;
  }
  let access;
  try {
    access = loadKubeconfigFile(kubeconfig);
  } catch (e) {
    return (e as Error).message;
  }
  const client = access.server.startsWith("https:") && (access.caPem || access.certPem)
    ? Deno.createHttpClient({
      ...(access.caPem ? { caCerts: [access.caPem] } : {}),
      ...(access.certPem && access.keyPem ? { cert: access.certPem, key: access.keyPem } : {}),
    })
    : undefined;
  try {
    const headers: Record<string, string> = {};
    const token = access.token ??
      (access.tokenFile ? (await Deno.readTextFile(access.tokenFile)).trim() : undefined);
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(`${access.server}/readyz`, {
      headers,
      client,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.text()).trim();
    if (res.status === 200) return true;
    return `${access.server}/readyz answered ${res.status}: ${body.split("\n").slice(-1)[0] ?? ""}`;
  } catch (e) {
    return `${access.server}/readyz: ${(e as Error).message}`;
  } finally {
    client?.close();
  }
}
