/**
 * Puts prismnet where containerd looks: `10-prismnet.conflist` in the CNI conf dir and a
 * `prismnet` symlink to this program in the CNI bin dir (k3s's own paths by default).
 */
import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "./fsutil.ts";

export const CONFLIST_NAME = "10-prismnet.conflist";
export const NETWORK_NAME = "prismnet";

export interface ConflistOptions {
  socket: string;
  mtu: number;
  pluginTimeoutMs: number;
  chainPortmap: boolean;
}

/**
 * The conflist. It stays at cniVersion 1.0.0 so libcni-1.0 runtimes keep working; without a
 * chained portmap (whose version we do not control) it also offers 1.1.0 through `cniVersions`,
 * which newer runtimes pick to get STATUS and GC.
 */
export function conflist(o: ConflistOptions): Record<string, unknown> {
  const plugins: Record<string, unknown>[] = [{
    type: "prismnet",
    mtu: o.mtu,
    capabilities: { ips: true, mac: true },
    prismnet: { socket: o.socket, timeoutSeconds: Math.ceil(o.pluginTimeoutMs / 1000) },
  }];
  if (o.chainPortmap) {
    plugins.push({ type: "portmap", capabilities: { portMappings: true }, snat: true });
  }
  return {
    cniVersion: "1.0.0",
    ...(o.chainPortmap ? {} : { cniVersions: ["1.0.0", "1.1.0"] }),
    name: NETWORK_NAME,
    plugins,
  };
}

/**
 * The executable to link as `prismnet`: the compiled k8shost itself, or, from a source tree
 * (where the running executable is deno), scripts/k8shost, which keeps argv[0].
 */
export function pluginBinary(execPath = Deno.execPath()): string {
  if (execPath.split("/").pop() === "deno") {
    return fileURLToPath(new URL("../../scripts/k8shost", import.meta.url));
  }
  return execPath;
}

export interface InstallResult {
  conflistPath: string;
  linkPath: string;
  target: string;
  /** Conf files that sort before ours: containerd would use them instead. */
  shadowedBy: string[];
}

export async function install(
  opts: ConflistOptions & { confDir: string; binDir: string; binary?: string },
) {
  const target = opts.binary ?? pluginBinary();
  await Deno.mkdir(opts.confDir, { recursive: true, mode: 0o755 });
  await Deno.mkdir(opts.binDir, { recursive: true, mode: 0o755 });
  const conflistPath = `${opts.confDir}/${CONFLIST_NAME}`;
  await writeFileAtomic(conflistPath, JSON.stringify(conflist(opts), null, 2) + "\n");
  await Deno.chmod(conflistPath, 0o644);
  const linkPath = `${opts.binDir}/prismnet`;
  let current: string | undefined;
  try {
    current = await Deno.readLink(linkPath);
  } catch { /* absent or not a link */ }
  if (current !== target) {
    const tmp = `${opts.binDir}/.prismnet-${Deno.pid}`;
    await Deno.remove(tmp).catch(() => {});
    await Deno.symlink(target, tmp);
    await Deno.rename(tmp, linkPath);
  }
  const shadowedBy: string[] = [];
  for await (const e of Deno.readDir(opts.confDir)) {
    if (/\.(conf|conflist|json)$/.test(e.name) && e.name < CONFLIST_NAME) shadowedBy.push(e.name);
  }
  return { conflistPath, linkPath, target, shadowedBy: shadowedBy.sort() } satisfies InstallResult;
}
