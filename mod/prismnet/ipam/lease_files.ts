/**
 * The lease store on disk. Each lease is one file named by its address, created exclusively
 * (temp + hard link) and fsynced, so an address can never be granted twice, not even by two
 * processes or across a crash. Namespace subnets live in subnets.json (atomic replace).
 */
import {
  createExclusive,
  readJson,
  removeIfExists,
  sweepTemps,
  writeFileAtomic,
} from "../fsutil.ts";
import { type Cidr, formatCidr } from "./cidr.ts";
import type { Lease, NamespaceSubnet } from "./lease.ts";

export interface SubnetsFile {
  clusterCidr: string;
  prefix: number;
  namespaces: Record<string, NamespaceSubnet>;
}

const fileNameOf = (ip: string) => ip.replaceAll(":", "_");

/**
 * Prepares `dir` and reads its subnets.json. Refuses state carved from another cluster CIDR or
 * prefix, since re-carving would move namespaces that already have addresses.
 */
export async function openStateDir(
  dir: string,
  cluster: Cidr,
  prefix: number,
): Promise<SubnetsFile> {
  await Deno.mkdir(`${dir}/leases`, { recursive: true, mode: 0o700 });
  await sweepTemps(dir);
  await sweepTemps(`${dir}/leases`);
  const normalized = formatCidr(cluster);
  const saved = await readJson<SubnetsFile>(`${dir}/subnets.json`);
  if (
    saved && Object.keys(saved.namespaces).length > 0 &&
    (saved.clusterCidr !== normalized || saved.prefix !== prefix)
  ) {
    throw new Error(
      `prismnet IPAM: ${dir} holds subnets carved from ${saved.clusterCidr} /${saved.prefix}; ` +
        `the configuration now says ${normalized} /${prefix}. Move the state away to re-carve.`,
    );
  }
  return saved ?? { clusterCidr: normalized, prefix, namespaces: {} };
}

/** Every lease file's address, with its lease when the file is readable. */
export async function* readLeaseFiles(
  dir: string,
): AsyncGenerator<{ ip: string; lease?: Lease }> {
  for await (const e of Deno.readDir(`${dir}/leases`)) {
    if (!e.isFile || e.name.startsWith(".")) continue;
    const lease = await readJson<Lease>(`${dir}/leases/${e.name}`).catch(() => undefined);
    yield { ip: lease?.ip ?? e.name.replaceAll("_", ":"), lease };
  }
}

/** Creates the lease's file; false when a file for that address already exists. */
export function writeLeaseFile(dir: string, lease: Lease): Promise<boolean> {
  return createExclusive(`${dir}/leases/${fileNameOf(lease.ip)}`, JSON.stringify(lease));
}

export async function removeLeaseFile(dir: string, ip: string): Promise<void> {
  await removeIfExists(`${dir}/leases/${fileNameOf(ip)}`);
}

export async function writeSubnetsFile(dir: string, subnets: SubnetsFile): Promise<void> {
  await writeFileAtomic(`${dir}/subnets.json`, JSON.stringify(subnets, null, 2));
}
