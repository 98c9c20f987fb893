/** Helpers shared by the supervisor tests: the fake k3s, temp dirs, captured logs. */
import { configureLogging } from "../mod/log/mod.ts";

export const FAKE_K3S = new URL("./support/fake-k3s", import.meta.url).pathname;

/** PATH with this test's deno first, so the fake's `#!/usr/bin/env -S deno` finds it. */
export function pathWithDeno(): string {
  const denoDir = Deno.execPath().replace(/\/[^/]*$/, "");
  return `${denoDir}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`;
}

export interface Start {
  n: number;
  pid: number;
  pgid: number;
  time: number;
  argv: string[];
  notifySocket: string | null;
  grandchild: number | null;
}

export function readStarts(stateDir: string): Start[] {
  try {
    return Deno.readTextFileSync(`${stateDir}/starts.jsonl`).trim().split("\n").filter(Boolean)
      .map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

export function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Captures every log record (parsed JSON) until `restore()`. */
export function captureLogs(): { records: Record<string, unknown>[]; restore(): void } {
  const records: Record<string, unknown>[] = [];
  configureLogging({
    format: "json",
    level: "debug",
    sink: { write: (line) => records.push(JSON.parse(line)) },
  });
  return {
    records,
    restore() {
      configureLogging({
        level: "info",
        sink: { write: (line) => Deno.stderr.writeSync(new TextEncoder().encode(line + "\n")) },
      });
    },
  };
}

export async function waitFor(
  what: string,
  cond: () => boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A self-signed CA and a 127.0.0.1 server certificate made with openssl (apt: openssl). */
export async function makeTlsDir(dir: string): Promise<void> {
  const run = async (...args: string[]) => {
    const out = await new Deno.Command("openssl", {
      args,
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
    }
  };
  await run(
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "1",
    "-subj",
    "/CN=kh-sup-test-ca",
  );
  await run(
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=127.0.0.1",
  );
  await Deno.writeTextFile(`${dir}/ext.cnf`, "subjectAltName=IP:127.0.0.1\n");
  await run(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    "1",
    "-extfile",
    "ext.cnf",
  );
}

/**
 * A real unix datagram socket bound by a separate deno process (--unstable-net gives it
 * Deno.listenDatagram), printing every datagram it receives as a JSON line.
 */
export async function startNotifyReceiver(path: string) {
  const code = `
    const sock = Deno.listenDatagram({ transport: "unixpacket", path: ${JSON.stringify(path)} });
    console.log(JSON.stringify("LISTENING"));
    for await (const [data] of sock) console.log(JSON.stringify(new TextDecoder().decode(data)));
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--unstable-net", code],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const received: string[] = [];
  let buf = "";
  const pump = (async () => {
    for (;;) {
      const { value, done } = await lines.read();
      if (done) return;
      buf += value;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        received.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
    }
  })();
  const deadline = Date.now() + 10_000;
  while (!received.includes("LISTENING")) {
    if (Date.now() > deadline) throw new Error("notify receiver did not start");
    await new Promise((r) => setTimeout(r, 20));
  }
  received.splice(0);
  return {
    received,
    async next(timeoutMs = 5000): Promise<string> {
      const end = Date.now() + timeoutMs;
      while (received.length === 0) {
        if (Date.now() > end) throw new Error("no datagram received");
        await new Promise((r) => setTimeout(r, 10));
      }
      return received.shift()!;
    },
    async close() {
      child.kill("SIGKILL");
      await child.status;
      await pump.catch(() => {});
    },
  };
}
