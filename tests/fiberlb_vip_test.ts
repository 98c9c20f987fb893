/**
 * External IPs that are not local: the embedded FiberLB runs inside a fresh network namespace
 * (as it would on a host), adds the address to the dummy interface fiberlb0, serves real TCP on
 * it to a backend across a veth pair, adopts its addresses after a restart, drops strays, and
 * removes the address when the load balancer goes. Needs root and iproute2.
 */
import assert from "node:assert/strict";
import { FiberlbClient } from "../mod/fiberlb/client.ts";
import {
  healthCheck,
  lbWithPool,
  nameServer,
  tempDir,
  waitFor,
  whoAnswers,
} from "./fiberlb_support.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function sh(...args: string[]): Promise<string> {
  const out = await new Deno.Command(args[0], {
    args: args.slice(1),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

async function addrsOn(ns: string, dev: string): Promise<string[]> {
  const out = await sh("ip", "-n", ns, "-j", "addr", "show", "dev", dev).catch(() => "[]");
  return (JSON.parse(out || "[]")[0]?.addr_info ?? [])
    .filter((a: { scope: string }) => a.scope === "global")
    .map((a: { local: string }) => a.local).sort();
}

interface Child {
  proc: Deno.ChildProcess;
  target: string;
  stop(): Promise<void>;
}

async function startInNetns(ns: string, dir: string): Promise<Child> {
  const proc = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      ns,
      Deno.execPath(),
      "run",
      "-A",
      `${ROOT}mod/fiberlbd/standalone.ts`,
      "--data-dir",
      dir,
      "--listen",
      `unix://${dir}/lb.sock`,
      "--manage-addresses",
      "--iface",
      "fiberlb0",
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  clearTimeout(deadline);
  const m = /^ready (\S+)/.exec(text);
  if (!m) {
    await proc.status;
    throw new Error(`fiberlbd did not start in ${ns}: ${text}`);
  }
  const drain = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();
  return {
    proc,
    target: m[1],
    stop: async () => {
      proc.kill("SIGTERM");
      await proc.status;
      await drain;
    },
  };
}

Deno.test("non-local external IPs go on fiberlb0 in the namespace and carry real traffic", async () => {
  const tag = crypto.randomUUID().replace(/-/g, "").slice(0, 6);
  const ns = `kh-fiberlb-${tag}`;
  const hostIf = `khfl${tag}a`, nsIf = `khfl${tag}b`;
  const n = 1 + Math.floor(Math.random() * 250);
  const hostIp = `198.18.${n}.1`,
    nsIp = `198.18.${n}.2`,
    vip = `198.19.${n}.10`,
    stray = `198.19.${n}.99`;
  const dir = await tempDir("vip");
  let child: Child | undefined;
  let backend: ReturnType<typeof nameServer> | undefined;
  await sh("ip", "netns", "add", ns);
  try {
    await sh("ip", "link", "add", hostIf, "type", "veth", "peer", "name", nsIf);
    await sh("ip", "link", "set", nsIf, "netns", ns);
    await sh("ip", "addr", "add", `${hostIp}/30`, "dev", hostIf);
    await sh("ip", "link", "set", hostIf, "up");
    await sh("ip", "-n", ns, "addr", "add", `${nsIp}/30`, "dev", nsIf);
    await sh("ip", "-n", ns, "link", "set", nsIf, "up");
    await sh("ip", "-n", ns, "link", "set", "lo", "up");
    await sh("ip", "route", "add", `${vip}/32`, "via", nsIp);
    backend = nameServer("behind-vip", hostIp);

    child = await startInNetns(ns, dir);
    let client = new FiberlbClient({ endpoint: child.target });
    const { lb } = await lbWithPool(client, vip, 80, [{ address: hostIp, port: backend.port }], {
      health_check: healthCheck("HEALTH_CHECK_TCP", { interval_ms: 500, timeout_ms: 300 }),
    });
    assert.deepEqual(await addrsOn(ns, "fiberlb0"), [vip]);
    assert.equal(await whoAnswers(vip, 80), "behind-vip");

    // Restart: the address is adopted, a stray one on the interface is removed.
    client.close();
    await child.stop();
    child = undefined;
    await sh("ip", "-n", ns, "addr", "add", `${stray}/32`, "dev", "fiberlb0");
    child = await startInNetns(ns, dir);
    client = new FiberlbClient({ endpoint: child.target });
    assert.deepEqual(await addrsOn(ns, "fiberlb0"), [vip]);
    assert.equal(await waitFor("traffic after restart", () => whoAnswers(vip, 80)), "behind-vip");

    await client.deleteLoadBalancer({ id: lb.id });
    assert.deepEqual(await addrsOn(ns, "fiberlb0"), []);
    client.close();
  } finally {
    await child?.stop();
    await backend?.close();
    await sh("ip", "netns", "del", ns).catch(() => {});
    await sh("ip", "link", "del", hostIf).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
