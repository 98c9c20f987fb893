/**
 * Test harness for prismnet: a "node" network namespace running the node daemon as its own
 * process (so the bridge lives there, not on the host), pod namespaces, the plugin executed
 * the way a runtime does it (a `prismnet` symlink to scripts/k8shost, env + stdin, exit code),
 * and a direct socket client for fast loops. Every name starts with `khcni`.
 */
import { fileURLToPath } from "node:url";
import type { NodeNetworkOptions } from "../mod/prismnet/node.ts";
import type { WireRequest, WireResponse } from "../cni/spec.ts";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DAEMON = `${ROOT}tests/cni_daemon_main.ts`;

export const uniq = () => crypto.randomUUID().slice(0, 6);

export async function sh(
  cmd: string[],
  opts: { stdin?: string; env?: Record<string, string> } = {},
) {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: opts.env,
    clearEnv: opts.env !== undefined,
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

export async function must(cmd: string[]): Promise<string> {
  const r = await sh(cmd);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

export async function addNetns(name: string): Promise<string> {
  await must(["ip", "netns", "add", name]);
  return `/var/run/netns/${name}`;
}

export async function delNetns(name: string): Promise<void> {
  await sh(["ip", "netns", "del", name]);
}

/** Deterministic per-test cluster CIDR out of 10.200-10.249 (never routed off the node netns). */
export function testCidr(): string {
  return `10.${200 + Math.floor(Math.random() * 50)}.0.0/16`;
}

export class NodeHarness {
  readonly id = uniq();
  readonly nodeNs = `khcni-${this.id}-n`;
  readonly dir: string;
  readonly socket: string;
  readonly bridge = `khcni${this.id}`;
  readonly network = `khcni${this.id}`;
  readonly cidr = testCidr();
  readonly pluginPath: string;
  private proc?: Deno.ChildProcess;
  private pods: string[] = [];

  private constructor(dir: string, private readonly extra: Partial<NodeNetworkOptions>) {
    this.dir = dir;
    this.socket = `${dir}/prismnet.sock`;
    this.pluginPath = `${dir}/bin/prismnet`;
  }

  static async create(extra: Partial<NodeNetworkOptions> = {}): Promise<NodeHarness> {
    const dir = await Deno.makeTempDir({ prefix: "khcni-" });
    const h = new NodeHarness(dir, extra);
    await Deno.mkdir(`${dir}/bin`);
    await Deno.symlink(`${ROOT}scripts/k8shost`, h.pluginPath);
    await addNetns(h.nodeNs);
    await must(["ip", "-n", h.nodeNs, "link", "set", "lo", "up"]);
    await h.start();
    return h;
  }

  options(): NodeNetworkOptions {
    return {
      stateDir: `${this.dir}/state`,
      socket: this.socket,
      node: `node-${this.id}`,
      bridge: this.bridge,
      mtu: 1400,
      clusterCidr: this.cidr,
      namespaceSubnetPrefix: 24,
      endpoint: "",
      callTimeoutMs: 5000,
      sweepIntervalMs: 3_600_000,
      gcGraceMs: 0,
      ...this.extra,
    };
  }

  async start(): Promise<void> {
    const proc = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        this.nodeNs,
        Deno.execPath(),
        "run",
        "-A",
        "--quiet",
        DAEMON,
        JSON.stringify(this.options()),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.proc = proc;
    const reader = proc.stdout.getReader();
    let text = "";
    while (!text.includes("ready")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("prismnet daemon exited before it was ready");
      text += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    // Keep draining stdout so the daemon never blocks on a full pipe.
    proc.stdout.pipeTo(new WritableStream()).catch(() => {});
  }

  async stop(): Promise<void> {
    if (!this.proc) return;
    try {
      this.proc.kill("SIGTERM");
    } catch { /* already gone */ }
    await this.proc.status;
    this.proc = undefined;
  }

  async pod(): Promise<{ name: string; path: string }> {
    const name = `khcni-${this.id}-p${this.pods.length}`;
    this.pods.push(name);
    return { name, path: await addNetns(name) };
  }

  conf(extra: Record<string, unknown> = {}, cniVersion = "1.0.0"): Record<string, unknown> {
    return {
      cniVersion,
      name: this.network,
      type: "prismnet",
      prismnet: { socket: this.socket },
      ...extra,
    };
  }

  /** Runs the plugin exactly as a runtime would: exec, env, stdin, exit status, stdout. */
  async plugin(env: Record<string, string>, stdin: string | Record<string, unknown>) {
    const r = await sh([this.pluginPath], {
      stdin: typeof stdin === "string" ? stdin : JSON.stringify(stdin),
      env: {
        PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin",
        HOME: Deno.env.get("HOME") ?? "/root",
        CNI_PATH: "/opt/cni/bin",
        ...env,
      },
    });
    let json: Record<string, unknown> | undefined;
    try {
      json = r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
    } catch { /* asserted by callers */ }
    return { ...r, json };
  }

  /** Lease files of the embedded IPAM. */
  async leases(): Promise<string[]> {
    return await list(`${this.dir}/state/ipam/leases`);
  }

  async records(): Promise<string[]> {
    return await list(`${this.dir}/state/attachments`);
  }

  /** Host ends on the bridge. */
  async ports(): Promise<string[]> {
    const out = await must([
      "ip",
      "-n",
      this.nodeNs,
      "-json",
      "link",
      "show",
      "master",
      this.bridge,
    ]);
    return (JSON.parse(out || "[]") as Array<{ ifname: string }>).map((l) => l.ifname);
  }

  async cleanup(): Promise<void> {
    await this.stop();
    for (const p of this.pods) await delNetns(p);
    await delNetns(this.nodeNs);
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

async function list(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (!e.name.startsWith(".")) out.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort();
}

/** A persistent connection to the daemon socket, for loops that skip the plugin process. */
export class DaemonClient {
  private buf = "";
  private constructor(private readonly conn: Deno.UnixConn) {}

  static async connect(path: string): Promise<DaemonClient> {
    return new DaemonClient(await Deno.connect({ transport: "unix", path }));
  }

  async send(req: WireRequest): Promise<WireResponse> {
    const bytes = new TextEncoder().encode(JSON.stringify(req) + "\n");
    for (let off = 0; off < bytes.length;) off += await this.conn.write(bytes.subarray(off));
    const chunk = new Uint8Array(65536);
    while (!this.buf.includes("\n")) {
      const n = await this.conn.read(chunk);
      if (n === null) throw new Error("daemon closed the connection");
      this.buf += new TextDecoder().decode(chunk.subarray(0, n));
    }
    const nl = this.buf.indexOf("\n");
    const line = this.buf.slice(0, nl);
    this.buf = this.buf.slice(nl + 1);
    return JSON.parse(line);
  }

  close() {
    this.conn.close();
  }
}

export function cniEnv(
  command: string,
  containerId: string,
  netns: string,
  ifname = "eth0",
  args = "",
) {
  return { command, containerId, netns, ifname, args, path: "" } as WireRequest["env"];
}

export async function ping(netns: string, ip: string): Promise<boolean> {
  const r = await sh(["ip", "netns", "exec", netns, "ping", "-c", "1", "-W", "2", ip]);
  return r.code === 0;
}
