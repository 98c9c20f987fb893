/**
 * Shared helpers of the FlashDNS tests: an embedded FlashDNS set up for the cluster, and running
 * `dig` and parsing its answer sections.
 */
import { createFlashdnsClient, type FlashdnsClient } from "../mod/flashdns/client.ts";
import { type EmbeddedFlashdns, startEmbeddedFlashdns } from "../mod/flashdnsd/mod.ts";

/**
 * The embedded FlashDNS as a cluster uses it (cluster.local, reverse zones for the service and
 * pod CIDRs) with its state under `dir`, and a client to it; `dns` also serves DNS on loopback.
 */
export async function clusterFlashdns(
  dir: string,
  opts: { dns?: boolean } = {},
): Promise<{ fd: EmbeddedFlashdns; client: FlashdnsClient }> {
  const fd = await startEmbeddedFlashdns({
    stateDir: `${dir}/flashdns`,
    grpcListen: "127.0.0.1:0",
    ...(opts.dns ? { dnsListen: "127.0.0.1:0" } : {}),
    domain: "cluster.local",
    reverseCidrs: ["10.96.0.0/12", "10.244.0.0/16"],
    upstreams: [],
    soaTtl: 30,
  });
  return { fd, client: createFlashdnsClient({ endpoint: fd.grpcTarget }) };
}

export interface DigResult {
  status: string;
  flags: string[];
  answer: string[];
  authority: string[];
  additional: string[];
  raw: string;
}

/** Runs `dig @127.0.0.1 -p port ...args` and splits its output into sections. */
export async function dig(port: number, ...args: string[]): Promise<DigResult> {
  const out = await new Deno.Command("dig", {
    args: [`@127.0.0.1`, "-p", String(port), "+tries=1", "+time=3", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const raw = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`dig ${args.join(" ")} failed: ${raw}${new TextDecoder().decode(out.stderr)}`);
  }
  const status = /status: ([A-Z]+)/.exec(raw)?.[1] ?? "";
  const flags = (/;; flags: ([a-z ]+);/.exec(raw)?.[1] ?? "").trim().split(/\s+/);
  const section = (title: string) => {
    const m = new RegExp(`;; ${title} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(raw);
    return m
      ? m[1].split("\n").filter((l) => l && !l.startsWith(";")).map((l) => l.split(/\s+/).join(" "))
        .sort()
      : [];
  };
  return {
    status,
    flags,
    answer: section("ANSWER"),
    authority: section("AUTHORITY"),
    additional: section("ADDITIONAL"),
    raw,
  };
}

export async function tempDir(prefix = "kh-flashdns-"): Promise<string> {
  return await Deno.makeTempDir({ prefix });
}
