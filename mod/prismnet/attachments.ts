/**
 * The node daemon's record of each attachment it made: written before anything is created
 * ("adding") and completed after ("ready"), so leak repair knows what exists even after a crash
 * in the middle of an ADD. One small file per attachment, replaced atomically.
 */
import { readJson, removeIfExists, sweepTemps, writeFileAtomic } from "./fsutil.ts";
import { attachmentId } from "./desired.ts";
import type { CniResult } from "./result.ts";

export interface AttachmentRecord {
  network: string;
  containerId: string;
  ifname: string;
  netns: string;
  hostVeth: string;
  podMac: string;
  hostMac: string;
  namespace: string;
  podName: string;
  podUid: string;
  state: "adding" | "ready";
  /** Pod address with prefix, once allocated. */
  address?: string;
  gateway?: string;
  /** Our own part of the ADD result (before chaining), in the internal shape. */
  result?: CniResult;
  createdAt: string;
}

export class AttachmentStore {
  private records = new Map<string, AttachmentRecord>();

  private constructor(private readonly dir: string) {}

  static async open(dir: string): Promise<AttachmentStore> {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await sweepTemps(dir);
    const store = new AttachmentStore(dir);
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile || !e.name.endsWith(".json")) continue;
      const rec = await readJson<AttachmentRecord>(`${dir}/${e.name}`).catch(() => undefined);
      if (rec?.containerId) store.records.set(e.name.slice(0, -5), rec);
    }
    return store;
  }

  get(network: string, containerId: string, ifname: string): AttachmentRecord | undefined {
    return this.records.get(attachmentId(network, containerId, ifname));
  }

  /**
   * Durability here only serves leak repair (IPAM leases are fsynced on their own), so records
   * skip fsync to keep ADD fast.
   */
  async put(rec: AttachmentRecord): Promise<void> {
    const id = attachmentId(rec.network, rec.containerId, rec.ifname);
    await writeFileAtomic(`${this.dir}/${id}.json`, JSON.stringify(rec), false);
    this.records.set(id, rec);
  }

  async remove(network: string, containerId: string, ifname: string): Promise<void> {
    const id = attachmentId(network, containerId, ifname);
    await removeIfExists(`${this.dir}/${id}.json`);
    this.records.delete(id);
  }

  list(): AttachmentRecord[] {
    return [...this.records.values()];
  }
}
