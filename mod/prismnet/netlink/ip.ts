/**
 * iproute2 as a library: one `ip` process per call (or per batch), JSON for reads, and errors
 * that say which command failed and why. Every process spawn costs about a millisecond, so
 * callers group writes into batches.
 */

export class IpCommandError extends Error {
  constructor(readonly argv: string[], readonly stderr: string, readonly exitCode: number) {
    super(`${argv.join(" ")}: ${stderr.trim() || `exit ${exitCode}`}`);
  }
  /** The device, address or route the command named does not exist. */
  get notFound(): boolean {
    return /Cannot find device|does not exist|No such device|No such process|Cannot assign requested address/
      .test(this.stderr);
  }
  /** The network namespace could not be entered. */
  get netnsMissing(): boolean {
    return /Cannot open network namespace|nsenter: cannot open|reassociate to namespace/.test(
      this.stderr,
    );
  }
  get exists(): boolean {
    return /File exists/.test(this.stderr);
  }
}

const NAMED_NETNS = /^\/(?:var\/)?run\/netns\/([^/]+)$/;

/**
 * The command prefix that runs `ip` inside `netns` (a path): `ip -n NAME` for pinned
 * namespaces under /run/netns (containerd's cni-* pins), else nsenter into the path.
 */
export function ipArgv(netns?: string): string[] {
  if (!netns) return ["ip"];
  const m = NAMED_NETNS.exec(netns);
  return m ? ["ip", "-n", m[1]] : ["nsenter", `--net=${netns}`, "ip"];
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Spawn counter, for tests and the bench to see how many processes an operation cost. */
export const ipStats = { spawns: 0 };

async function run(argv: string[], stdin?: string): Promise<RunResult> {
  ipStats.spawns++;
  const cmd = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { LC_ALL: "C" },
  });
  const child = cmd.spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  const res = { stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  if (!out.success) throw new IpCommandError(argv, res.stderr, out.code);
  return res;
}

/** `ip [-n ns] args...`; resolves to stdout. */
export async function ip(args: string[], netns?: string): Promise<string> {
  return (await run([...ipArgv(netns), ...args])).stdout;
}

/** `ip -json args...`, parsed; an empty answer is []. */
export async function ipJson<T = Record<string, unknown>>(
  args: string[],
  netns?: string,
): Promise<T[]> {
  const out = (await run([...ipArgv(netns), "-json", ...args])).stdout.trim();
  return out === "" ? [] : JSON.parse(out) as T[];
}

/**
 * Runs several `ip` commands in one process (`ip -batch -`). Without `force` the batch stops
 * at the first failure, which is reported with its line.
 */
export async function ipBatch(lines: string[], netns?: string, force = false): Promise<void> {
  if (lines.length === 0) return;
  if (lines.length === 1) {
    await run([...ipArgv(netns), ...splitArgs(lines[0])]);
    return;
  }
  const argv = [...ipArgv(netns), ...(force ? ["-force"] : []), "-batch", "-"];
  await run(argv, lines.join("\n") + "\n");
}

function splitArgs(line: string): string[] {
  return line.split(/\s+/).filter((s) => s !== "");
}

/** Like `ip`, but a missing device resolves to undefined instead of throwing. */
export async function ipJsonIfExists<T = Record<string, unknown>>(
  args: string[],
  netns?: string,
): Promise<T[] | undefined> {
  try {
    return await ipJson<T>(args, netns);
  } catch (e) {
    if (e instanceof IpCommandError && e.notFound) return undefined;
    throw e;
  }
}

/** `ip link del dev NAME`; true if it was there. */
export async function deleteLink(name: string, netns?: string): Promise<boolean> {
  try {
    await ip(["link", "del", "dev", name], netns);
    return true;
  } catch (e) {
    if (e instanceof IpCommandError && (e.notFound || e.netnsMissing)) return false;
    throw e;
  }
}

export interface LinkInfo {
  ifname: string;
  ifindex: number;
  address?: string;
  mtu: number;
  master?: string;
  flags: string[];
  operstate?: string;
  link_type?: string;
  linkinfo?: { info_kind?: string };
}

export interface AddrInfo {
  ifname: string;
  addr_info: Array<{ family: string; local: string; prefixlen: number; scope?: string }>;
}

export interface RouteInfo {
  dst: string;
  gateway?: string;
  dev?: string;
}

let nsfsDev: number | null | undefined;

/**
 * Whether `path` is a network namespace handle (a /proc/PID/ns/net file or a bind mount of
 * one): every nsfs inode lives on the same device as our own /proc/self/ns/net.
 */
export function isNetnsPath(path: string): boolean {
  try {
    nsfsDev ??= Deno.statSync("/proc/self/ns/net").dev;
    return Deno.statSync(path).dev === nsfsDev;
  } catch {
    return false;
  }
}
