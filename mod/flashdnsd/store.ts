/**
 * The embedded FlashDNS record store: record sets in memory, indexed by absolute name for the DNS
 * server, persisted as one JSON file written atomically (temp + rename). Writers await a group
 * commit: mutations arriving while a write is in flight share the next write, so a batch is
 * acknowledged only once it is on disk without serialising every call behind its own write.
 */
import {
  fqdn,
  labelsMatch,
  normalizeRecordSet,
  type RecordSet,
  type RecordSetKey,
  sameRecordSet,
  setKey,
} from "../flashdns/records.ts";

export interface StoredSet extends RecordSet {
  generation: number;
}

export interface Conflict {
  key: RecordSetKey;
  reason: string;
}

const FILE_VERSION = 1;

export class RecordStore {
  private sets = new Map<string, StoredSet>();
  /** Absolute name → type → set, for answering queries. */
  private byName = new Map<string, Map<string, StoredSet>>();
  /** Absolute name → number of sets at or below it, so empty non-terminals answer NODATA. */
  private below = new Map<string, number>();
  private generation = 0;
  private sortedKeys: string[] | undefined;
  private writing: Promise<void> | undefined;
  private pending: Promise<void> | undefined;
  /** A write failed: the next call persists even when it changes nothing itself. */
  private unsaved = false;

  private constructor(private readonly file: string | undefined) {}

  /** Opens (or creates) the store in `dir`; no dir keeps it in memory only. */
  static async open(dir?: string): Promise<RecordStore> {
    if (!dir) return new RecordStore(undefined);
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const store = new RecordStore(`${dir}/records.json`);
    let text: string | undefined;
    try {
      text = await Deno.readTextFile(store.file!);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (text !== undefined) {
      const data = JSON.parse(text) as { version: number; generation: number; sets: StoredSet[] };
      if (data.version !== FILE_VERSION) {
        throw new Error(`${store.file}: unknown version ${data.version}`);
      }
      for (const s of data.sets) store.put({ ...normalizeRecordSet(s), generation: s.generation });
      store.generation = data.generation;
    }
    return store;
  }

  get size(): number {
    return this.sets.size;
  }

  get(key: RecordSetKey): StoredSet | undefined {
    return this.sets.get(setKey(key));
  }

  /** Sets at an absolute name (lower case, no trailing dot). */
  lookup(name: string): Map<string, StoredSet> | undefined {
    return this.byName.get(name);
  }

  /** True when the name has sets or is an ancestor of a name that has. */
  exists(name: string): boolean {
    return (this.below.get(name) ?? 0) > 0;
  }

  /** Keys in sorted order (zone, name, type), cached until the next change. */
  keys(): string[] {
    if (!this.sortedKeys) this.sortedKeys = [...this.sets.keys()].sort();
    return this.sortedKeys;
  }

  getByKey(key: string): StoredSet | undefined {
    return this.sets.get(key);
  }

  /**
   * Creates or replaces sets. A set that exists without `requireLabels` is left alone and
   * reported. Returns how many sets changed. Input must already be normalised.
   */
  async upsert(sets: RecordSet[], requireLabels: Record<string, string> = {}) {
    const conflicts: Conflict[] = [];
    let applied = 0;
    for (const s of sets) {
      const have = this.get(s);
      if (have && !labelsMatch(have.labels, requireLabels)) {
        conflicts.push({ key: keyOf(s), reason: "exists with other owner labels" });
        continue;
      }
      if (have && sameRecordSet(have, s)) continue;
      this.put({ ...s, generation: ++this.generation });
      applied++;
    }
    if (applied > 0 || this.unsaved) await this.persist();
    return { applied, conflicts };
  }

  async delete(keys: RecordSetKey[], requireLabels: Record<string, string> = {}) {
    const conflicts: Conflict[] = [];
    let deleted = 0;
    for (const k of keys) {
      const have = this.get(k);
      if (!have) continue;
      if (!labelsMatch(have.labels, requireLabels)) {
        conflicts.push({ key: keyOf(k), reason: "exists with other owner labels" });
        continue;
      }
      this.remove(have);
      deleted++;
    }
    if (deleted > 0) this.generation++;
    if (deleted > 0 || this.unsaved) await this.persist();
    return { deleted, conflicts };
  }

  private put(s: StoredSet) {
    const key = setKey(s);
    const old = this.sets.get(key);
    if (old) this.remove(old);
    this.sets.set(key, s);
    this.sortedKeys = undefined;
    const name = fqdn(s.zone, s.name);
    let types = this.byName.get(name);
    if (!types) this.byName.set(name, types = new Map());
    types.set(s.type, s);
    for (const n of ancestors(name)) this.below.set(n, (this.below.get(n) ?? 0) + 1);
  }

  private remove(s: StoredSet) {
    this.sets.delete(setKey(s));
    this.sortedKeys = undefined;
    const name = fqdn(s.zone, s.name);
    const types = this.byName.get(name);
    types?.delete(s.type);
    if (types?.size === 0) this.byName.delete(name);
    for (const n of ancestors(name)) {
      const c = (this.below.get(n) ?? 1) - 1;
      if (c <= 0) this.below.delete(n);
      else this.below.set(n, c);
    }
  }

  /** Resolves once every change made before the call is on disk. */
  persist(): Promise<void> {
    if (!this.file) return Promise.resolve();
    if (this.pending) return this.pending;
    const after = this.writing ?? Promise.resolve();
    const next: Promise<void> = after.catch(() => {}).then(async () => {
      this.pending = undefined;
      this.writing = next;
      try {
        this.unsaved = true;
        await this.writeFile();
        this.unsaved = false;
      } finally {
        if (this.writing === next) this.writing = undefined;
      }
    });
    this.pending = next;
    return next;
  }

  private async writeFile() {
    const file = this.file!;
    const body = JSON.stringify({
      version: FILE_VERSION,
      generation: this.generation,
      sets: [...this.sets.values()],
    });
    const tmp = `${file}.tmp-${crypto.randomUUID()}`;
    try {
      await Deno.writeTextFile(tmp, body, { mode: 0o600 });
      await Deno.rename(tmp, file);
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      throw e;
    }
  }

  /** Waits for any write in flight (used on shutdown). */
  async flush(): Promise<void> {
    await (this.pending ?? this.writing)?.catch(() => {});
  }
}

function keyOf(k: RecordSetKey): RecordSetKey {
  return { zone: k.zone, name: k.name, type: k.type };
}

/** `a.b.c` → `a.b.c`, `b.c`, `c`. */
function* ancestors(name: string): Generator<string> {
  let n = name;
  while (true) {
    yield n;
    const dot = n.indexOf(".");
    if (dot < 0) return;
    n = n.slice(dot + 1);
  }
}
