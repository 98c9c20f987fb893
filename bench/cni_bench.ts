/**
 * ADD and DEL latency as a container runtime sees it (exec to exit), prismnet side by side with
 * Debian's reference `bridge` + `host-local` plugins, interleaved in one run. Prints a table.
 *
 *   deno run -A bench/cni_bench.ts [iterations]     (root; containernetworking-plugins)
 *
 * Everything runs inside a private "node" network namespace (bridges, routes, daemon), so the
 * host's network is never touched. Variants:
 *   reference      /usr/lib/cni/bridge with host-local IPAM
 *   k8shost        the installed form from a source tree: `prismnet` -> scripts/k8shost
 *   main.ts        `deno run main.ts` directly (no bash wrapper)
 *   cni/main.ts    the plugin face alone, no node: imports, no config/lockfile: Deno's floor
 *   daemon only    the daemon's own work, one request over a kept-open socket (no process)
 */
import { fileURLToPath } from "node:url";
import {
  cniEnv,
  DaemonClient,
  delNetns,
  must,
  NodeHarness,
  ROOT,
  sh,
} from "../tests/cni_helpers.ts";

const REF_DIR = "/usr/lib/cni";
const self = fileURLToPath(import.meta.url);

if (Deno.args[0] === "--runner") {
  await runner(JSON.parse(Deno.args[1]));
} else {
  await orchestrate(Number(Deno.args[0] ?? 60));
}

interface RunnerSpec {
  iterations: number;
  socket: string;
  network: string;
  pods: string[];
  plugin: string;
  refDir: string;
  refSubnet: string;
}

async function orchestrate(iterations: number) {
  try {
    await Deno.stat(`${REF_DIR}/bridge`);
  } catch {
    console.error(`bench: ${REF_DIR}/bridge missing: apt-get install containernetworking-plugins`);
    Deno.exit(2);
  }
  const h = await NodeHarness.create();
  const refDir = await Deno.makeTempDir({ prefix: "khcni-bench-" });
  try {
    const pods = [await h.pod(), await h.pod()].map((p) => p.path);
    const spec: RunnerSpec = {
      iterations,
      socket: h.socket,
      network: h.network,
      pods,
      plugin: h.pluginPath,
      refDir,
      refSubnet: h.cidr.replace(".0.0/16", ".250.0/24"),
    };
    // The runner lives in the node namespace so the reference bridge lands there too.
    const r = await sh([
      "ip",
      "netns",
      "exec",
      h.nodeNs,
      Deno.execPath(),
      "run",
      "-A",
      "--quiet",
      self,
      "--runner",
      JSON.stringify(spec),
    ]);
    Deno.stdout.writeSync(new TextEncoder().encode(r.stdout));
    if (r.code !== 0) {
      console.error(r.stderr);
      Deno.exit(1);
    }
  } finally {
    await h.cleanup();
    await Deno.remove(refDir, { recursive: true }).catch(() => {});
    await delNetns(`khcni-bench-none`);
  }
}

async function timed(argv: string[], env: Record<string, string>, stdin: string): Promise<number> {
  const t0 = performance.now();
  const r = await sh(argv, {
    stdin,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? "/root",
      CNI_PATH: REF_DIR,
      ...env,
    },
  });
  const ms = performance.now() - t0;
  if (r.code !== 0) {
    throw new Error(`${argv.join(" ")} ${env.CNI_COMMAND}: ${r.stdout} ${r.stderr}`);
  }
  return ms;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function runner(spec: RunnerSpec) {
  const refConf = JSON.stringify({
    cniVersion: "1.0.0",
    name: "khcnibenchref",
    type: "bridge",
    bridge: `khcniref${spec.refSubnet.split(".")[1]}`,
    isGateway: true,
    mtu: 1400,
    ipam: { type: "host-local", subnet: spec.refSubnet, dataDir: spec.refDir },
  });
  const ourConf = JSON.stringify({
    cniVersion: "1.0.0",
    name: spec.network,
    type: "prismnet",
    prismnet: { socket: spec.socket },
  });
  const deno = Deno.execPath();
  const variants: Record<string, { argv: string[]; conf: string }> = {
    "reference bridge+host-local": { argv: [`${REF_DIR}/bridge`], conf: refConf },
    "prismnet (scripts/k8shost)": { argv: [spec.plugin], conf: ourConf },
    "prismnet (deno run main.ts)": {
      argv: [
        deno,
        "run",
        "--quiet",
        "--allow-all",
        "--config",
        `${ROOT}deno.json`,
        `${ROOT}main.ts`,
      ],
      conf: ourConf,
    },
    "prismnet (deno run cni/main.ts)": {
      argv: [
        deno,
        "run",
        "--quiet",
        "--allow-all",
        "--no-config",
        "--no-lock",
        `${ROOT}cni/main.ts`,
      ],
      conf: ourConf,
    },
  };
  const samples: Record<string, { add: number[]; del: number[] }> = {};
  for (const k of Object.keys(variants)) samples[k] = { add: [], del: [] };
  samples["prismnet daemon only (socket)"] = { add: [], del: [] };
  const client = await DaemonClient.connect(spec.socket);
  // Warm-up: module caches, bridge creation, first namespace subnet.
  let n = 0;
  const once = async (record: boolean) => {
    for (const [name, v] of Object.entries(variants)) {
      const id = `khcnib${n++}`;
      const env = { CNI_CONTAINERID: id, CNI_NETNS: spec.pods[n % 2], CNI_IFNAME: "eth0" };
      const add = await timed(v.argv, { ...env, CNI_COMMAND: "ADD" }, v.conf);
      const del = await timed(v.argv, { ...env, CNI_COMMAND: "DEL" }, v.conf);
      if (record) {
        samples[name].add.push(add);
        samples[name].del.push(del);
      }
    }
    const id = `khcnid${n++}`;
    let t0 = performance.now();
    const a = await client.send({ env: cniEnv("ADD", id, spec.pods[n % 2]), stdin: ourConf });
    const add = performance.now() - t0;
    t0 = performance.now();
    const d = await client.send({ env: cniEnv("DEL", id, spec.pods[n % 2]), stdin: ourConf });
    const del = performance.now() - t0;
    if (a.exit !== 0 || d.exit !== 0) throw new Error(`daemon: ${a.output} ${d.output}`);
    if (record) {
      samples["prismnet daemon only (socket)"].add.push(add);
      samples["prismnet daemon only (socket)"].del.push(del);
    }
  };
  for (let i = 0; i < 3; i++) await once(false);
  for (let i = 0; i < spec.iterations; i++) await once(true);
  client.close();

  const ref = samples["reference bridge+host-local"];
  const rows = Object.entries(samples).map(([name, s]) => [
    name,
    pct(s.add, 50).toFixed(1),
    pct(s.add, 99).toFixed(1),
    pct(s.del, 50).toFixed(1),
    pct(s.del, 99).toFixed(1),
    (pct(s.add, 50) / pct(ref.add, 50)).toFixed(2) + "x",
    (pct(s.del, 50) / pct(ref.del, 50)).toFixed(2) + "x",
  ]);
  const head = [
    "variant (ms, exec to exit)",
    "ADD p50",
    "ADD p99",
    "DEL p50",
    "DEL p99",
    "ADD/ref",
    "DEL/ref",
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    "| " + r.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join(" | ") +
    " |";
  console.log(
    `CNI latency, ${spec.iterations} ADD/DEL pairs per variant, interleaved; ${Deno.build.os} ${Deno.version.deno}`,
  );
  console.log(line(head));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const r of rows) console.log(line(r));
  const load = await must(["cat", "/proc/loadavg"]).catch(() => "?");
  console.log(`loadavg at end: ${load.trim()}`);
}
