import dgram from "node:dgram";

/** Small probes of the host, shared by the doctor's checks. */

export function which(name: string, path: string[]): string | undefined {
  if (name.includes("/")) return isExecutable(name) ? name : undefined;
  for (const dir of path) {
    const candidate = `${dir}/${name}`;
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    const st = Deno.statSync(file);
    return st.isFile && ((st.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command with a deadline; a command that cannot start reports code 127. */
export async function runCommand(
  cmd: string,
  args: string[],
  timeoutMs = 5000,
): Promise<CommandResult> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" })
      .spawn();
  } catch (err) {
    return { code: 127, stdout: "", stderr: (err as Error).message };
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, timeoutMs);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return {
      code: out.signal === "SIGKILL" ? 124 : out.code,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Binds and releases host:port; returns why it could not, or undefined when it is free. */
export async function bindProblem(
  host: string,
  port: number,
  transport: "tcp" | "udp",
): Promise<string | undefined> {
  try {
    if (transport === "tcp") Deno.listen({ hostname: host, port, transport }).close();
    else await bindUdp(host, port);
    return undefined;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (err instanceof Deno.errors.AddrInUse || code === "EADDRINUSE") return "in use";
    if (err instanceof Deno.errors.PermissionDenied || code === "EACCES") {
      return "permission denied";
    }
    if (err instanceof Deno.errors.AddrNotAvailable || code === "EADDRNOTAVAIL") {
      return "address not on this host";
    }
    return (err as Error).message;
  }
}

/** UDP via node:dgram: Deno.listenDatagram still needs --unstable-net. */
function bindUdp(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
    sock.once("error", (err) => {
      sock.close();
      reject(err);
    });
    sock.bind(port, host, () => sock.close(() => resolve()));
  });
}
