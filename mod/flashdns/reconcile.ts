/**
 * Diff-based sync of desired record sets into FlashDNS. Each Kubernetes object (a "source")
 * contributes sets; a change marks the affected set keys dirty, and a flush compares only those
 * with the last known backend state and applies the difference in batches. A full resync lists
 * what the backend holds under our owner label and compares everything, which repairs drift
 * (sets changed or removed behind our back) and forgets nothing: state is rebuilt from the
 * objects and the listing, never kept only in memory.
 */
import type { Logger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import type { FlashdnsClient } from "./client.ts";
import { mergeRecordSets } from "./desired.ts";
import { parseSetKey, type RecordSet, sameRecordSet, setKey } from "./records.ts";

export interface SyncerOptions {
  client: FlashdnsClient;
  /** Zones our sets live in (the cluster domain, in-addr.arpa, ip6.arpa). */
  zones: string[];
  /** The `owner` label value; only sets carrying it are ever changed or deleted. */
  owner: string;
  /** Sets per upsert/delete call (default 1000). */
  batchSize?: number;
  log: Logger;
  metrics?: Registry;
}

export interface FlushResult {
  upserted: number;
  deleted: number;
  conflicts: number;
}

export class RecordSyncer {
  private actual = new Map<string, RecordSet>();
  private contributions = new Map<string, RecordSet[]>();
  private sourcesOf = new Map<string, Set<string>>();
  private dirty = new Set<string>();
  private lock: Promise<unknown> = Promise.resolve();
  private readonly require: Record<string, string>;
  private readonly counters;

  constructor(private readonly opts: SyncerOptions) {
    this.require = { owner: opts.owner };
    const m = opts.metrics;
    this.counters = m && {
      ops: m.counter(
        "flashdns_sync_record_sets_total",
        "Record sets written to FlashDNS, by operation.",
      ),
      conflicts: m.counter(
        "flashdns_sync_conflicts_total",
        "Sets left alone because another owner holds them.",
      ),
      flush: m.histogram("flashdns_sync_flush_seconds", "Duration of one flush (diff + batches)."),
    };
  }

  /** Set keys waiting for a flush. */
  pending(): number {
    return this.dirty.size;
  }

  /** The sets we believe the backend holds for us (after the last flush). */
  known(): RecordSet[] {
    return [...this.actual.values()];
  }

  /** Replaces what `source` (e.g. `svc/ns/name`) contributes; empty removes it. */
  setSource(source: string, sets: RecordSet[]) {
    for (const s of this.contributions.get(source) ?? []) this.unlink(source, setKey(s));
    if (sets.length === 0) this.contributions.delete(source);
    else this.contributions.set(source, sets);
    for (const s of sets) {
      const key = setKey(s);
      let srcs = this.sourcesOf.get(key);
      if (!srcs) this.sourcesOf.set(key, srcs = new Set());
      srcs.add(source);
      this.dirty.add(key);
    }
  }

  private unlink(source: string, key: string) {
    const srcs = this.sourcesOf.get(key);
    srcs?.delete(source);
    if (srcs?.size === 0) this.sourcesOf.delete(key);
    this.dirty.add(key);
  }

  private desiredFor(key: string): RecordSet | undefined {
    const srcs = this.sourcesOf.get(key);
    if (!srcs) return undefined;
    const parts: RecordSet[] = [];
    for (const src of srcs) {
      for (const s of this.contributions.get(src) ?? []) if (setKey(s) === key) parts.push(s);
    }
    return mergeRecordSets(parts)[0];
  }

  /**
   * Lists the backend's sets under our owner label, replaces every contribution with `sources`,
   * and flushes the full difference.
   */
  resync(sources: Map<string, RecordSet[]>): Promise<FlushResult> {
    return this.exclusive(async () => {
      const listed = await Promise.all(
        this.opts.zones.map((zone) =>
          this.opts.client.listRecordSets({ zone, labelSelector: this.require })
        ),
      );
      this.actual = new Map(listed.flat().map((s) => [setKey(s), s]));
      this.contributions.clear();
      this.sourcesOf.clear();
      this.dirty = new Set(this.actual.keys());
      for (const [src, sets] of sources) this.setSource(src, sets);
      return await this.apply();
    });
  }

  /** Applies the difference for the dirty keys. */
  flush(): Promise<FlushResult> {
    return this.exclusive(() => this.apply());
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => {});
    return run;
  }

  private async apply(): Promise<FlushResult> {
    const started = performance.now();
    const keys = [...this.dirty].sort();
    this.dirty.clear();
    const upserts: RecordSet[] = [];
    const deletes: string[] = [];
    for (const key of keys) {
      const want = this.desiredFor(key);
      const have = this.actual.get(key);
      if (want && !(have && sameRecordSet(have, want))) upserts.push(want);
      else if (!want && have) deletes.push(key);
    }
    const result: FlushResult = { upserted: 0, deleted: 0, conflicts: 0 };
    const size = this.opts.batchSize ?? 1000;
    let done = 0;
    try {
      for (let i = 0; i < deletes.length; i += size) {
        const batch = deletes.slice(i, i + size);
        const r = await this.opts.client.batchDelete(batch.map(parseSetKey), this.require);
        this.noteConflicts(r.conflicts);
        for (const k of batch) this.actual.delete(k);
        result.deleted += r.deleted;
        result.conflicts += r.conflicts.length;
      }
      for (let i = 0; i < upserts.length; i += size) {
        const batch = upserts.slice(i, i + size);
        const r = await this.opts.client.batchUpsert(batch, this.require);
        const refused = new Set(r.conflicts.map((c) => setKey(c.key)));
        this.noteConflicts(r.conflicts);
        for (const s of batch) if (!refused.has(setKey(s))) this.actual.set(setKey(s), s);
        result.upserted += batch.length - refused.size;
        result.conflicts += refused.size;
        done = i + batch.length;
      }
    } catch (e) {
      // What was not confirmed stays dirty; the caller retries with backoff.
      for (const k of deletes) if (this.actual.has(k)) this.dirty.add(k);
      for (const s of upserts.slice(done)) this.dirty.add(setKey(s));
      throw e;
    }
    this.counters?.ops.inc({ op: "upsert" }, result.upserted);
    this.counters?.ops.inc({ op: "delete" }, result.deleted);
    this.counters?.flush.observe({}, (performance.now() - started) / 1000);
    return result;
  }

  private noteConflicts(
    conflicts: Array<{ key: { zone: string; name: string; type: string }; reason: string }>,
  ) {
    for (const c of conflicts) {
      this.counters?.conflicts.inc();
      this.opts.log.warn("record set held by another owner; left alone", {
        set: setKey(c.key),
        reason: c.reason,
      });
    }
  }
}
