/**
 * Durable records as a snapshot plus an append-only journal, with group commit: every change
 * is one JSON line, and the lines that arrive while a sync is in flight go out together in one
 * write and one fdatasync. A burst of N changes costs a handful of syncs, not N file creations
 * and renames. When the journal outgrows the live state it is folded into a new snapshot
 * (temporary file, sync, rename, directory sync) and truncated.
 *
 * Replaying is idempotent (a put replaces the whole record, a delete removes it), so a crash
 * between the snapshot's rename and the journal's truncation loses nothing. A crash in the middle
 * of an append leaves a torn last line; it was never acknowledged, and opening drops it.
 */
import { readIfExists, syncDir, writeFileAtomic } from "../fsutil/mod.ts";

const SNAPSHOT = "snapshot.json";
const JOURNAL = "journal.log";
const encoder = new TextEncoder();

export type JournalOp<R> = { put: R } | { del: string };

export interface JournalOptions<R> {
  /** Checks one record read back from disk; throws on a malformed one. */
  parse(raw: unknown): R;
  /** Fold into a snapshot once the journal holds this many more lines than live records. */
  compactAfter?: number;
}

export class Journal<R extends { id: string }> {
  #pending: string[] = [];
  #waiters: Array<PromiseWithResolvers<void>> = [];
  #draining?: Promise<void>;
  #lines = 0;
  #bytes = 0;
  #syncs = 0;
  #broken?: Error;

  private constructor(
    readonly dir: string,
    private log: Deno.FsFile,
    private readonly records: Map<string, R>,
    private readonly compactAfter: number,
  ) {}

  /** Opens (creating) the journal in `dir`; the records come back in `records`. */
  static async open<R extends { id: string }>(
    dir: string,
    opts: JournalOptions<R>,
  ): Promise<{ journal: Journal<R>; records: Map<string, R> }> {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.includes(".tmp-")) await Deno.remove(`${dir}/${e.name}`);
    }
    const records = new Map<string, R>();
    const snap = await readIfExists(`${dir}/${SNAPSHOT}`);
    if (snap !== undefined) {
      const parsed = JSON.parse(snap) as { records?: unknown[] };
      if (!Array.isArray(parsed.records)) throw new Error(`${dir}/${SNAPSHOT}: no records array`);
      parsed.records.forEach((raw, i) => {
        const r = parseAt(opts.parse, raw, `${dir}/${SNAPSHOT}: record ${i + 1}`);
        records.set(r.id, r);
      });
    }
    const path = `${dir}/${JOURNAL}`;
    const text = await readIfExists(path) ?? "";
    const lines = text.split("\n");
    const torn = lines.pop()!; // "" when the journal ends with a newline
    lines.forEach((line, i) => {
      let op: JournalOp<unknown>;
      try {
        op = JSON.parse(line);
      } catch {
        throw new Error(`${path}: line ${i + 1} is corrupt; refusing to guess the state`);
      }
      if ("put" in op) {
        const r = parseAt(opts.parse, op.put, `${path}: line ${i + 1}`);
        records.set(r.id, r);
      } else if (typeof op.del === "string") records.delete(op.del);
      else throw new Error(`${path}: line ${i + 1} is neither a put nor a delete`);
    });
    const log = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
    const good = encoder.encode(text).length - encoder.encode(torn).length;
    if (torn !== "") await log.truncate(good);
    await log.seek(good, Deno.SeekMode.Start);
    if (snap === undefined && text === "") await syncDir(dir);
    const journal = new Journal(dir, log, records, opts.compactAfter ?? 1024);
    journal.#lines = lines.length;
    journal.#bytes = good;
    return { journal, records };
  }

  /** Queues `op` (already applied to the live records); resolves once it is on disk. */
  append(op: JournalOp<R>): Promise<void> {
    if (this.#broken) return Promise.reject(this.#broken);
    const w = Promise.withResolvers<void>();
    this.#pending.push(JSON.stringify(op) + "\n");
    this.#waiters.push(w);
    this.#draining ??= this.#drain();
    return w.promise;
  }

  /** How many batches have been synced (each one write and one fdatasync). */
  get syncs(): number {
    return this.#syncs;
  }

  /** Waits until every queued change is on disk (or has failed). */
  async settle(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  async close(): Promise<void> {
    await this.settle();
    this.#broken ??= new Error("the journal is closed");
    this.log.close();
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const lines = this.#pending, waiters = this.#waiters;
      this.#pending = [];
      this.#waiters = [];
      try {
        if (this.#broken) throw this.#broken;
        const bytes = encoder.encode(lines.join(""));
        try {
          await writeAll(this.log, bytes);
          await this.log.syncData();
        } catch (err) {
          await this.#rewind(err as Error);
          throw err;
        }
        this.#syncs++;
        this.#bytes += bytes.length;
        this.#lines += lines.length;
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
        continue;
      }
      if (this.#lines > this.records.size + this.compactAfter) {
        // A failed fold leaves a longer journal, which is still complete: retried next time.
        await this.#compact().catch(() => {});
      }
    }
    // In the same tick as the last check for pending lines, so no append can slip between.
    this.#draining = undefined;
  }

  /** Cuts a partly written batch off, so the next append does not follow a torn line. */
  async #rewind(cause: Error): Promise<void> {
    try {
      await this.log.truncate(this.#bytes);
      await this.log.seek(this.#bytes, Deno.SeekMode.Start);
    } catch {
      this.#broken = new Error(`the journal cannot be written: ${cause.message}`);
    }
  }

  async #compact(): Promise<void> {
    const snapshot = JSON.stringify({ version: 1, records: [...this.records.values()] });
    await writeFileAtomic(`${this.dir}/${SNAPSHOT}`, snapshot);
    await syncDir(this.dir);
    await this.log.truncate(0);
    await this.log.seek(0, Deno.SeekMode.Start);
    await this.log.syncData();
    this.#bytes = 0;
    this.#lines = 0;
  }
}

function parseAt<R>(parse: (raw: unknown) => R, raw: unknown, where: string): R {
  try {
    return parse(raw);
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
}

async function writeAll(f: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await f.write(bytes.subarray(off));
}
