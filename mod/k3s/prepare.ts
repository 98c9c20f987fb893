/**
 * Files k3s reads at start that k8shost owns: the data dir, the audit policy and the audit log's
 * directory. Idempotent; written atomically (temp file + rename).
 */
import type { Config } from "../config/spec.ts";
import { AUDIT_POLICY, k3sLayout } from "./layout.ts";

export async function writeFileAtomic(path: string, text: string, mode = 0o600): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.writeTextFile(tmp, text, { mode });
    await Deno.chmod(tmp, mode); // the umask may have narrowed or the file pre-existed
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

function dirname(path: string): string {
  return path.replace(/\/[^/]*$/, "") || "/";
}

export async function prepareK3sFiles(config: Config, role: "server" | "agent"): Promise<void> {
  const layout = k3sLayout(config, role);
  await Deno.mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await Deno.mkdir(layout.k3sDataDir, { recursive: true, mode: 0o700 });
  if (role === "server" && config.auditLog.enable) {
    let current: string | undefined;
    try {
      current = await Deno.readTextFile(layout.auditPolicyFile);
    } catch { /* first start */ }
    if (current !== AUDIT_POLICY) await writeFileAtomic(layout.auditPolicyFile, AUDIT_POLICY);
    await Deno.mkdir(dirname(config.auditLog.path), { recursive: true, mode: 0o700 });
  }
}
