/**
 * Durable state of the embedded LightningStor: one JSON document in `<dir>/state.json`, replaced
 * atomically (write temp, fsync, rename) after every change, plus the volume and snapshot image
 * files beside it. Mutations run one at a time through `update`, so a crash leaves either the
 * old or the new document, never a torn one.
 */
import { emptyState, type StoreState } from "./rules.ts";

export class StateStore {
  private state: StoreState = emptyState();

  private constructor(readonly dir: string) {}

  static async open(dir: string): Promise<StateStore> {
    await Deno.mkdir(`${dir}/volumes`, { recursive: true, mode: 0o700 });
    await Deno.mkdir(`${dir}/snapshots`, { recursive: true, mode: 0o700 });
    const store = new StateStore(dir);
    try {
      const raw = JSON.parse(await Deno.readTextFile(store.file));
      if (raw?.version !== 1) throw new Error(`unsupported state version ${raw?.version}`);
      store.state = { ...emptyState(), ...raw };
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        throw new Error(`cannot read ${store.file}: ${err instanceof Error ? err.message : err}`);
      }
    }
    // Temp files of a write interrupted by a crash are garbage.
    for await (const e of Deno.readDir(dir)) {
      if (e.name.startsWith("state.json.tmp")) {
        await Deno.remove(`${dir}/${e.name}`).catch(() => {});
      }
    }
    return store;
  }

  get file(): string {
    return `${this.dir}/state.json`;
  }

  volumePath(id: string): string {
    return `${this.dir}/volumes/${id}.img`;
  }

  snapshotPath(id: string): string {
    return `${this.dir}/snapshots/${id}.img`;
  }

  /** A deep copy of the current state, for reads. */
  read(): StoreState {
    return structuredClone(this.state);
  }

  /**
   * Runs `fn` alone (no other update interleaves), on a working copy; when it resolves the copy
   * is persisted and becomes the state. A throw leaves state untouched. Updates queued while a
   * write is in flight are applied one after another and committed with a single write (group
   * commit), so a burst of creates costs one fsync, not one each.
   */
  update<T>(fn: (s: StoreState) => Promise<T> | T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.flushing) this.flush();
    });
  }

  private pending: Array<{
    fn: (s: StoreState) => unknown;
    resolve: (v: unknown) => void;
    reject: (e: unknown) => void;
  }> = [];
  private flushing = false;

  private async flush() {
    this.flushing = true;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0);
      let draft = structuredClone(this.state);
      const done: Array<() => void> = [];
      const failed: Array<() => void> = [];
      for (const item of batch) {
        const attempt = structuredClone(draft);
        try {
          const result = await item.fn(attempt);
          draft = attempt;
          done.push(() => item.resolve(result));
        } catch (err) {
          failed.push(() => item.reject(err));
        }
      }
      try {
        if (done.length > 0) await this.persist(draft);
        this.state = draft;
        done.forEach((f) => f());
      } catch (err) {
        batch.forEach((item) => item.reject(err));
      }
      failed.forEach((f) => f());
    }
    this.flushing = false;
  }

  private async persist(s: StoreState) {
    const tmp = `${this.file}.tmp-${crypto.randomUUID().slice(0, 8)}`;
    const f = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
    try {
      const data = new TextEncoder().encode(JSON.stringify(s, null, 1));
      for (let off = 0; off < data.length;) off += await f.write(data.subarray(off));
      await f.syncData();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, this.file);
  }
}
