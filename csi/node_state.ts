/**
 * What the node plugin staged, one small JSON file per volume in its state directory, written
 * atomically. It records what cannot be re-derived from the kernel alone (which backing file
 * and access type a volume was staged with, and its publish targets); mounts and loop devices
 * are still checked against the kernel on every call.
 */
export interface StagedVolume {
  volumeId: string;
  stagingPath: string;
  backingFile: string;
  device: string;
  kind: "mount" | "block";
  fsType: string;
  /** Mount flags the staging mount was made with (reused when it is remounted). */
  mountFlags?: string[];
  readOnly: boolean;
  /** Publish targets and whether each is read-only. */
  targets: Record<string, { readOnly: boolean }>;
}

const SAFE_ID = /^[A-Za-z0-9._-]{1,128}$/;

export class NodeState {
  constructor(readonly dir: string) {}

  private file(volumeId: string): string | undefined {
    // Ids that could not name a file were never staged.
    return SAFE_ID.test(volumeId) && !/^\.+$/.test(volumeId)
      ? `${this.dir}/${volumeId}.json`
      : undefined;
  }

  async get(volumeId: string): Promise<StagedVolume | undefined> {
    const f = this.file(volumeId);
    if (!f) return undefined;
    try {
      return JSON.parse(await Deno.readTextFile(f)) as StagedVolume;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    }
  }

  async put(v: StagedVolume): Promise<void> {
    const f = this.file(v.volumeId);
    if (!f) throw new Error(`volume id ${JSON.stringify(v.volumeId)} cannot be recorded`);
    await Deno.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${f}.tmp-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.writeTextFile(tmp, JSON.stringify(v), { mode: 0o600 });
    await Deno.rename(tmp, f);
  }

  async remove(volumeId: string): Promise<void> {
    const f = this.file(volumeId);
    if (f) await Deno.remove(f).catch(() => {});
  }

  async list(): Promise<StagedVolume[]> {
    const out: StagedVolume[] = [];
    try {
      for await (const e of Deno.readDir(this.dir)) {
        if (!e.name.endsWith(".json")) continue;
        const v = await this.get(e.name.slice(0, -5));
        if (v) out.push(v);
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return out;
  }
}
