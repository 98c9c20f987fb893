/**
 * Process plumbing for the supervisor: finding the executable, the child's environment, and the
 * child's process group (k3s runs containerd and friends as its children; killing the group
 * leaves none behind, while containerd's shims, which call setsid, keep the pods running).
 */

/** The executable could not be found or run; the message names the fix. */
export class K3sBinaryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "K3sBinaryError";
  }
}

function isExecutableFile(path: string): boolean {
  try {
    const st = Deno.statSync(path);
    return st.isFile && st.mode !== null && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

const FIX = "install k3s, set k3s.bin in the config to its absolute path, or pass --k3s-bin " +
  "/path/to/k3s (or run with --no-k3s to attach to a cluster that is already running)";

/** Resolves `bin` like execvp: a path is used as is, a bare name is searched in PATH. */
export function resolveBin(bin: string, path = Deno.env.get("PATH") ?? ""): string {
  if (bin === "") throw new K3sBinaryError(`k3s.bin is empty: ${FIX}`);
  if (bin.includes("/")) {
    if (isExecutableFile(bin)) return bin;
    throw new K3sBinaryError(`k3s executable "${bin}" does not exist or is not executable: ${FIX}`);
  }
  for (const dir of path.split(":")) {
    const candidate = `${dir || "."}/${bin}`;
    if (isExecutableFile(candidate)) return candidate;
  }
  throw new K3sBinaryError(
    `k3s executable "${bin}" not found on PATH (${path || "empty"}): ${FIX}`,
  );
}

/**
 * Variables k3s must not see: NOTIFY_SOCKET would let k3s tell systemd READY=1 before our parts
 * are up (and systemd accepts only the main PID anyway); the watchdog and socket-activation
 * variables describe this process, not the child.
 */
const WITHHELD = [
  "NOTIFY_SOCKET",
  "WATCHDOG_USEC",
  "WATCHDOG_PID",
  "LISTEN_FDS",
  "LISTEN_PID",
  "LISTEN_FDNAMES",
];

export function childEnv(env: Record<string, string>): Record<string, string> {
  const out = { ...env };
  for (const k of WITHHELD) delete out[k];
  return out;
}

/** Live (non-zombie) processes whose process group is `pgid`, from /proc. */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const ent of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(ent.name)) continue;
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${ent.name}/stat`);
    } catch {
      continue; // exited while we looked
    }
    // The command name may hold spaces and parentheses: fields start after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const [state, , pg] = fields;
    if (Number(pg) === pgid && state !== "Z" && state !== "X") out.push(Number(ent.name));
  }
  return out;
}

/** Sends `signal` to every process in the group; false when the group is already gone. */
export function signalGroup(pgid: number, signal: Deno.Signal): boolean {
  try {
    Deno.kill(-pgid, signal);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Polls until the group is empty; true if it emptied within `timeoutMs`. */
export async function waitGroupGone(
  pgid: number,
  timeoutMs: number,
  pollMs = 50,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (groupMembers(pgid).length === 0) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** The process's start time (clock ticks since boot), which tells a reused pid apart. */
export function startTimeOf(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** What the pid file records: the k3s process group and its leader's start time. */
export interface PidRecord {
  pgid: number;
  startTime: string;
}

export function readPidFile(path: string): PidRecord | undefined {
  try {
    const rec = JSON.parse(Deno.readTextFileSync(path));
    if (Number.isInteger(rec.pgid) && rec.pgid > 1 && typeof rec.startTime === "string") return rec;
  } catch { /* absent or garbled: nothing to reap */ }
  return undefined;
}

/**
 * A k3s group left behind by a k8shost that was killed outright (SIGKILL, OOM): true when the
 * recorded leader still runs with the recorded start time, or others of its group remain.
 */
export function leftoverGroup(rec: PidRecord): boolean {
  if (startTimeOf(rec.pgid) === rec.startTime) return true;
  return groupMembers(rec.pgid).length > 0 && startTimeOf(rec.pgid) === undefined;
}

/** SIGTERM to the group, SIGKILL to what is left after `graceMs`; resolves once it is empty. */
export async function stopGroup(pgid: number, graceMs: number): Promise<void> {
  if (groupMembers(pgid).length === 0) return;
  signalGroup(pgid, "SIGTERM");
  if (await waitGroupGone(pgid, graceMs)) return;
  signalGroup(pgid, "SIGKILL");
  await waitGroupGone(pgid, 5000);
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects, leaves no timer). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}
