/**
 * Real OVN for tests, started by hand (no systemd): ovsdb-server for the NB and SB databases
 * on unix sockets in a fresh temp dir, ovn-northd, and optionally a chassis — an Open_vSwitch
 * database, ovs-vswitchd on the userspace (`netdev`) datapath and ovn-controller.
 *
 * The chassis runs inside its own network namespace (the "node"): the userspace datapath keeps
 * a tap device named `ovs-netdev` per process, so two vswitchds in one namespace collide, and
 * its taps are persistent — deleting the namespace is what reliably removes them. Host ends of
 * pod veths live in that namespace too. Every name carries a random id; stop() kills every
 * process it started (by pid) and removes the namespace and the temp dir.
 */

export interface OvnOptions {
  /** Start ovs-vswitchd and ovn-controller in a node network namespace (default true). */
  chassis?: boolean;
}

export interface CmdResult {
  code: number;
  stdout: string;
  stderr: string;
}

const uniq = () => crypto.randomUUID().replaceAll("-", "").slice(0, 6);

export async function run(cmd: string[], env?: Record<string, string>): Promise<CmdResult> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env,
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

export async function must(cmd: string[], env?: Record<string, string>): Promise<string> {
  const r = await run(cmd, env);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function exitsWithin(child: Deno.ChildProcess, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      child.status.then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

export class OvnHarness {
  readonly id = uniq();
  /** Node network namespace holding the chassis (vswitchd, br-int taps, host veth ends). */
  readonly netns = `khovn-${this.id}`;
  /** Integration bridge; unique because netdev bridges are tap devices named after them. */
  readonly bridge = `khbr${this.id}`;
  readonly systemId = `khovn-node-${this.id}`;
  readonly nb: string;
  readonly sb: string;
  readonly ovs: string;
  readonly env: Record<string, string>;
  private procs: Array<{ name: string; child: Deno.ChildProcess }> = [];
  private netnsMade = false;

  private constructor(readonly dir: string, readonly chassis: boolean) {
    this.nb = `unix:${dir}/nb.sock`;
    this.sb = `unix:${dir}/sb.sock`;
    this.ovs = `unix:${dir}/db.sock`;
    this.env = Object.fromEntries(
      ["OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVN_RUNDIR", "OVN_DBDIR", "OVN_LOGDIR"]
        .map((k) => [k, dir]),
    );
  }

  static async start(opts: OvnOptions = {}): Promise<OvnHarness> {
    const dir = await Deno.makeTempDir({ prefix: "kh-ovn-" });
    const h = new OvnHarness(dir, opts.chassis ?? true);
    try {
      await h.boot();
      return h;
    } catch (e) {
      const logs = await h.logTail();
      await h.stop();
      throw new Error(`${e instanceof Error ? e.message : e}\n${logs}`);
    }
  }

  private spawn(name: string, cmd: string[]): void {
    const child = new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      stdin: "null",
      stdout: "null",
      stderr: "null",
      env: this.env,
    }).spawn();
    this.procs.push({ name, child });
  }

  private async boot(): Promise<void> {
    const d = this.dir;
    const dbs: Array<[string, string]> = [
      ["nb", "/usr/share/ovn/ovn-nb.ovsschema"],
      ["sb", "/usr/share/ovn/ovn-sb.ovsschema"],
    ];
    if (this.chassis) dbs.push(["db", "/usr/share/openvswitch/vswitch.ovsschema"]);
    for (const [n, schema] of dbs) {
      await must(["ovsdb-tool", "create", `${d}/${n}.db`, schema]);
      this.spawn(`ovsdb-server-${n}`, [
        "ovsdb-server",
        `--remote=punix:${d}/${n}.sock`,
        `--unixctl=${d}/${n}.ctl`,
        `--log-file=${d}/${n}.log`,
        `${d}/${n}.db`,
      ]);
    }
    for (const [n] of dbs) await waitFor(`${n}.sock`, () => exists(`${d}/${n}.sock`));
    await this.nbctl("init");
    await must(["ovn-sbctl", `--db=${this.sb}`, "init"]);
    this.spawn("ovn-northd", [
      "ovn-northd",
      `--ovnnb-db=${this.nb}`,
      `--ovnsb-db=${this.sb}`,
      `--unixctl=${d}/northd.ctl`,
      `--log-file=${d}/northd.log`,
    ]);
    if (this.chassis) await this.bootChassis();
    await this.nbctl("--wait=sb", "sync");
  }

  private async bootChassis(): Promise<void> {
    const d = this.dir;
    await must(["ip", "netns", "add", this.netns]);
    this.netnsMade = true;
    await must(["ip", "-n", this.netns, "link", "set", "lo", "up"]);
    await this.vsctl("--no-wait", "init");
    this.spawn("ovs-vswitchd", [
      "ip",
      "netns",
      "exec",
      this.netns,
      "ovs-vswitchd",
      this.ovs,
      `--unixctl=${d}/vswitchd.ctl`,
      `--log-file=${d}/vswitchd.log`,
    ]); // deno-fmt-ignore
    await this.vsctl(
      "--", "add-br", this.bridge,
      "--", "set", "bridge", this.bridge, "datapath_type=netdev", "fail-mode=secure",
      "other_config:disable-in-band=true",
      "--", "set", "open_vswitch", ".",
      `external_ids:system-id=${this.systemId}`,
      `external_ids:ovn-remote=${this.sb}`,
      "external_ids:ovn-encap-type=geneve",
      "external_ids:ovn-encap-ip=127.0.0.1",
      `external_ids:ovn-bridge=${this.bridge}`,
      "external_ids:ovn-bridge-datapath-type=netdev",
    ); // deno-fmt-ignore
    this.spawn("ovn-controller", [
      "ip", "netns", "exec", this.netns, "ovn-controller", this.ovs,
      `--log-file=${d}/controller.log`,
    ]); // deno-fmt-ignore
    await must(["ovn-sbctl", `--db=${this.sb}`, "--timeout=20", "wait-until", "Chassis", this.systemId]);
  }

  nbctl(...args: string[]): Promise<string> {
    return must(["ovn-nbctl", `--db=${this.nb}`, "--timeout=20", ...args], this.env);
  }

  sbctl(...args: string[]): Promise<string> {
    return must(["ovn-sbctl", `--db=${this.sb}`, "--timeout=20", ...args], this.env);
  }

  vsctl(...args: string[]): Promise<string> {
    return must(["ovs-vsctl", `--db=${this.ovs}`, "--timeout=20", ...args], this.env);
  }

  /**
   * `ovn-trace --ct=new --minimal` (the SB must be current: `nbctl --wait=sb sync` first).
   * Throws when ovn-trace could not parse a logical flow's match: a broken ACL must fail the
   * test, not read as a drop.
   */
  async trace(datapath: string, microflow: string): Promise<string> {
    const r = await run(
      ["ovn-trace", `--db=${this.sb}`, "--ct=new", "--minimal", datapath, microflow],
      this.env,
    );
    if (r.code !== 0) throw new Error(`ovn-trace exited ${r.code}: ${r.stderr.trim()}`);
    const broken = r.stderr.split("\n").filter((l) =>
      /parsing expression failed|Syntax error/.test(l)
    );
    if (broken.length) throw new Error(`ovn-trace could not parse flows:\n${broken.join("\n")}`);
    return r.stdout;
  }

  /** Runs a command inside the node namespace. */
  inNode(cmd: string[]): Promise<CmdResult> {
    return run(["ip", "netns", "exec", this.netns, ...cmd]);
  }

  async logTail(lines = 15): Promise<string> {
    const out: string[] = [];
    for (const f of ["nb", "sb", "db", "northd", "vswitchd", "controller"]) {
      const text = await Deno.readTextFile(`${this.dir}/${f}.log`).catch(() => "");
      if (text) out.push(`--- ${f}.log\n${text.trimEnd().split("\n").slice(-lines).join("\n")}`);
    }
    return out.join("\n");
  }

  /** Kills what start() spawned (newest first), removes the namespace and the temp dir. */
  async stop(): Promise<void> {
    for (const { child } of this.procs.reverse()) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      if (!(await exitsWithin(child, 3000))) {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
        await child.status;
      }
    }
    this.procs = [];
    if (this.netnsMade) await run(["ip", "netns", "del", this.netns]);
    this.netnsMade = false;
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

export const startOvn = (opts?: OvnOptions) => OvnHarness.start(opts);
