/**
 * Helpers of tests/appliance_e2e_test.ts: `scripts/k8shost` as a child process with its log
 * lines, free loopback ports, the appliance's command line, /readyz and a TokenReview over the
 * webhook's mTLS.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { parse as parseYaml } from "yaml";
import { pathWithDeno } from "./supervisor_support.ts";

export const K8SHOST = new URL("../scripts/k8shost", import.meta.url).pathname;
export const PARTS = ["webhook", "tenancy", "lb", "dns", "csi"];

export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 15_000,
): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function udpFree(port: number): Promise<boolean> {
  const s = dgram.createSocket("udp4");
  return new Promise((resolve) => {
    s.once("error", () => {
      try {
        s.close();
      } catch { /* never bound */ }
      resolve(false);
    });
    s.bind(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/** A loopback port that is free now (for DNS: on TCP and UDP). */
export async function freePort(udpToo = false): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    if (!udpToo || await udpFree(port)) return port;
  }
  throw new Error("no free port");
}

export async function refused(hostname: string, port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname, port })).close();
    return false;
  } catch {
    return true;
  }
}

/** `scripts/k8shost ARGS` as a child process; its JSON log lines are collected. */
export class K8shost {
  readonly lines: Record<string, unknown>[] = [];
  readonly child: Deno.ChildProcess;
  private readonly pump: Promise<void>;

  constructor(args: string[], env: Record<string, string>) {
    const base = Deno.env.toObject();
    delete base.NOTIFY_SOCKET;
    this.child = new Deno.Command(K8SHOST, {
      args,
      env: { ...base, PATH: pathWithDeno(), NO_COLOR: "1", ...env },
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = this.child.stderr;
    this.pump = (async () => {
      let buf = "";
      for await (const chunk of stderr.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          try {
            this.lines.push(JSON.parse(line));
          } catch {
            this.lines.push({ msg: line });
          }
        }
      }
    })();
  }

  has(pred: (l: Record<string, unknown>) => boolean): boolean {
    return this.lines.some(pred);
  }

  /** The last log lines, for assertion messages. */
  tail(n = 30): string {
    return this.lines.slice(-n).map((l) => JSON.stringify(l)).join("\n");
  }

  /** Sends `signal` and waits for the exit (SIGKILL after `ms`). */
  async stop(signal: Deno.Signal, ms = 20_000): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* gone */ }
    }, ms);
    try {
      const status = await this.child.status;
      await this.pump.catch(() => {});
      return status;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Runs `scripts/k8shost ARGS` to completion. */
export async function k8shostOnce(
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const out = await new Deno.Command(K8SHOST, {
    args,
    env: { PATH: pathWithDeno(), NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, out: dec(out.stdout), err: dec(out.stderr) };
}

export async function readyz(port: number): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz?verbose`);
  return { status: res.status, body: await res.text() };
}

export interface Ports {
  health: number;
  webhook: number;
  dns: number;
}

/** The config file and `--set` flags shared by both tests. */
export async function applianceArgs(root: string, p: Ports, pool: string): Promise<string[]> {
  // An explicit (nearly empty) file, so a host's /etc/k8shost/config.yaml never leaks in.
  await Deno.writeTextFile(`${root}/config.yaml`, "log: { level: info, format: json }\n");
  return [
    "--config",
    `${root}/config.yaml`,
    "--parts",
    PARTS.join(","),
    "--set",
    `dataDir=${root}/data`,
    "--set",
    `nodeName=kh-e2e-${crypto.randomUUID().slice(0, 6)}`,
    "--set",
    `health.listen=127.0.0.1:${p.health}`,
    "--set",
    `iam.webhook.listen=127.0.0.1:${p.webhook}`,
    "--set",
    `flashdns.listen=127.0.0.1:${p.dns}`,
    "--set",
    `fiberlb.externalIpPool=${pool}`,
    // Loopback VIPs are local already; never touch the shared fiberlb0 interface.
    "--set",
    "fiberlb.manageAddresses=false",
    "--set",
    "fiberlb.endpointDebounce=20ms",
    "--set",
    `k3s.kubeletDir=${root}/kubelet`,
    "--set",
    `auditLog.path=${root}/log/audit.log`,
  ];
}

export async function ports(): Promise<Ports> {
  return { health: await freePort(), webhook: await freePort(), dns: await freePort(true) };
}

/** A TokenReview through the webhook with the apiserver's client certificate (mTLS). */
export async function tokenReview(dataDir: string, token: string) {
  // deno-lint-ignore no-explicit-any
  const kc = parseYaml(await Deno.readTextFile(`${dataDir}/iam/webhook-kubeconfig.yaml`)) as any;
  const cluster = kc.clusters[0].cluster;
  const user = kc.users[0].user;
  const ca = await Deno.readTextFile(cluster["certificate-authority"]);
  const body = JSON.stringify({
    kind: "TokenReview",
    apiVersion: "authentication.k8s.io/v1",
    spec: { token, audiences: ["https://kubernetes.default.svc.cluster.local", "k3s"] },
  });
  const headers = { "content-type": "application/json" };
  // Without a client certificate the webhook does not talk at all.
  const anonymous = Deno.createHttpClient({ caCerts: [ca] });
  try {
    await assert.rejects(
      fetch(cluster.server, { method: "POST", client: anonymous, headers, body })
        .then((r) => r.body?.cancel()),
    );
  } finally {
    anonymous.close();
  }
  const client = Deno.createHttpClient({
    caCerts: [ca],
    cert: await Deno.readTextFile(user["client-certificate"]),
    key: await Deno.readTextFile(user["client-key"]),
  });
  try {
    const res = await fetch(cluster.server, { method: "POST", client, headers, body });
    assert.equal(res.status, 200);
    // deno-lint-ignore no-explicit-any
    return await res.json() as any;
  } finally {
    client.close();
  }
}
