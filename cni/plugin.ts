/**
 * The prismnet CNI plugin as containerd runs it: read CNI_* and stdin, answer VERSION and
 * reject malformed invocations locally, forward everything else to the node daemon over its
 * unix socket and print what it answers. It never waits long for a daemon that is not there:
 * that is code 11 (try again later), or 50 for STATUS.
 *
 * Startup time is the plugin's latency floor, so this file imports only cni/spec.ts.
 */
import {
  type CniError,
  cniError,
  CONNECT_TIMEOUT_MS,
  decodeConfig,
  ERR,
  errorOutput,
  isCniError,
  LATEST_VERSION,
  pluginSettings,
  readEnv,
  replyVersion,
  versionOutput,
  type WireRequest,
  type WireResponse,
} from "./spec.ts";

const ABOUT = "prismnet: PlasmaCloud PrismNET CNI plugin (k8shost); run by a container runtime";

export async function main(): Promise<number> {
  const env = readEnv((k) => Deno.env.get(k));
  if (isCniError(env)) {
    if (!Deno.env.get("CNI_COMMAND")) Deno.stderr.writeSync(new TextEncoder().encode(ABOUT + "\n"));
    return fail(LATEST_VERSION, env);
  }
  const stdin = readStdin();
  if (isCniError(stdin)) return fail(LATEST_VERSION, stdin);

  if (env.command === "VERSION") {
    // Input is {"cniVersion": ...} (possibly empty); the answer mirrors that version.
    let asked: unknown;
    try {
      asked = stdin.trim() === "" ? undefined : JSON.parse(stdin);
    } catch (e) {
      return fail(
        LATEST_VERSION,
        cniError(ERR.decodingFailure, "failed to decode VERSION input", String(e)),
      );
    }
    write(versionOutput(replyVersion(asked)));
    return 0;
  }

  const conf = decodeConfig(stdin, env.command);
  if (isCniError(conf)) return fail(replyVersion(safeParse(stdin)), conf);
  const version = replyVersion(conf);

  if ((env.command === "ADD" || env.command === "CHECK") && !isFile(env.netns)) {
    return fail(version, cniError(ERR.invalidEnv, "CNI_NETNS does not exist", env.netns));
  }

  const { socket, timeoutMs } = pluginSettings(conf);
  const unavailable = env.command === "STATUS" ? ERR.pluginNotAvailable : ERR.tryAgainLater;
  const reply = await ask(socket, { env, stdin }, timeoutMs, unavailable);
  if (isCniError(reply)) return fail(version, reply);
  if (reply.output !== "") write(reply.output);
  return reply.exit;
}

function fail(version: string, e: CniError): number {
  write(errorOutput(version, e));
  return 1;
}

function write(text: string) {
  const bytes = new TextEncoder().encode(text.endsWith("\n") ? text : text + "\n");
  for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
}

function readStdin(): string | CniError {
  try {
    if (Deno.stdin.isTerminal()) return "";
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = Deno.stdin.readSync(buf);
      if (n === null || n === 0) break;
      chunks.push(buf.slice(0, n));
    }
    return new TextDecoder().decode(concat(chunks));
  } catch (e) {
    return cniError(ERR.ioFailure, "error reading network configuration from stdin", String(e));
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

function safeParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

function isFile(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** One request, one newline-terminated JSON answer; every failure to get it is `unavailable`. */
async function ask(
  socket: string,
  req: WireRequest,
  timeoutMs: number,
  unavailable: number,
): Promise<WireResponse | CniError> {
  let conn: Deno.UnixConn | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = (ms: number, what: string) =>
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} after ${ms}ms`)), ms);
    });
  try {
    conn = await Promise.race([
      Deno.connect({ transport: "unix", path: socket }),
      deadline(CONNECT_TIMEOUT_MS, "connect timed out"),
    ]);
    clearTimeout(timer);
    const line = await Promise.race([exchange(conn, req), deadline(timeoutMs, "no answer")]);
    const reply = JSON.parse(line) as WireResponse;
    if (typeof reply.exit !== "number" || typeof reply.output !== "string") {
      throw new Error("malformed answer from the node daemon");
    }
    return reply;
  } catch (e) {
    return cniError(
      unavailable,
      "prismnet node daemon unavailable",
      `${socket}: ${(e as Error).message}`,
    );
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch { /* already closed */ }
  }
}

async function exchange(conn: Deno.UnixConn, req: WireRequest): Promise<string> {
  const out = new TextEncoder().encode(JSON.stringify(req) + "\n");
  for (let off = 0; off < out.length;) off += await conn.write(out.subarray(off));
  const dec = new TextDecoder();
  const buf = new Uint8Array(64 * 1024);
  let text = "";
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += dec.decode(buf.subarray(0, n), { stream: true });
    const nl = text.indexOf("\n");
    if (nl >= 0) return text.slice(0, nl);
  }
  if (text.trim() !== "") return text;
  throw new Error("node daemon closed the connection without an answer");
}
