/**
 * The DNSService gRPC implementation over the record store. Every request is validated at this
 * boundary (INVALID_ARGUMENT with the offending field); every mutation is idempotent.
 */
import { Buffer } from "node:buffer";
import { type AsyncImpl, GrpcError, Status } from "../grpc/mod.ts";
import {
  isRecordType,
  labelsMatch,
  normalizeName,
  normalizeRecordSet,
  normalizeValue,
  type RecordSet,
  type RecordSetKey,
  setKey,
} from "../flashdns/records.ts";
import type { RecordStore, StoredSet } from "./store.ts";

export const MAX_BATCH = 5000;
const DEFAULT_PAGE = 500;
const MAX_PAGE = 5000;

function invalid(msg: string): never {
  throw new GrpcError(Status.INVALID_ARGUMENT, msg);
}

function checked<T>(fn: () => T, at: string): T {
  try {
    return fn();
  } catch (e) {
    invalid(`${at}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function normKey(k: RecordSetKey, at: string): RecordSetKey {
  return checked(() => {
    const zone = normalizeName(k.zone ?? "", "zone");
    if (!zone) throw new Error("zone must not be empty");
    const name = !k.name || k.name === "@" ? "@" : normalizeName(k.name, "name");
    const type = String(k.type ?? "").toUpperCase();
    if (!isRecordType(type)) throw new Error(`type ${JSON.stringify(k.type)} is not supported`);
    return { zone, name, type };
  }, at);
}

interface RecordId {
  zone: string;
  name: string;
  type: string;
  value: string;
}

export function recordId(r: RecordId): string {
  return Buffer.from(JSON.stringify([r.zone, r.name, r.type, r.value])).toString("base64url");
}

function parseRecordId(id: string): RecordId {
  try {
    const [zone, name, type, value] = JSON.parse(Buffer.from(id, "base64url").toString());
    if ([zone, name, type, value].every((x) => typeof x === "string")) {
      return { zone, name, type, value };
    }
  } catch {
    // Falls through to the error below.
  }
  invalid(`id ${JSON.stringify(id)} is not a record id`);
}

interface Filter {
  zone?: string;
  name?: string;
  type?: string;
  label_selector?: Record<string, string>;
  page_size?: number;
  page_token?: string;
}

/** A page of sets after `page_token`, in key order. */
function page(store: RecordStore, req: Filter): { sets: StoredSet[]; next: string } {
  const zone = req.zone ? checked(() => normalizeName(req.zone!, "zone"), "zone") : "";
  const name = req.name
    ? (req.name === "@" ? "@" : checked(() => normalizeName(req.name!, "name"), "name"))
    : "";
  const type = (req.type ?? "").toUpperCase();
  const size = req.page_size ? Math.min(Math.max(1, req.page_size), MAX_PAGE) : DEFAULT_PAGE;
  const selector = req.label_selector ?? {};
  const after = req.page_token ? Buffer.from(req.page_token, "base64url").toString() : "";
  const keys = store.keys();
  // Binary search for the first key after the token.
  let lo = 0, hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid] <= after) lo = mid + 1;
    else hi = mid;
  }
  const sets: StoredSet[] = [];
  let i = lo;
  for (; i < keys.length && sets.length < size; i++) {
    const s = store.getByKey(keys[i])!;
    if (zone && s.zone !== zone) continue;
    if (name && s.name !== name) continue;
    if (type && s.type !== type) continue;
    if (!labelsMatch(s.labels, selector)) continue;
    sets.push(s);
  }
  const next = i < keys.length && sets.length === size
    ? Buffer.from(setKey(sets[sets.length - 1])).toString("base64url")
    : "";
  return { sets, next };
}

function wireSet(s: StoredSet) {
  return { ...s, generation: String(s.generation) };
}

function wireRecords(s: StoredSet) {
  return s.values.map((value) => ({
    id: recordId({ ...s, value }),
    zone: s.zone,
    name: s.name,
    type: s.type,
    value,
    ttl: s.ttl,
    labels: s.labels,
  }));
}

function wireConflict(c: { key: RecordSetKey; reason: string }) {
  return { key: c.key, reason: c.reason };
}

export function dnsServiceImpl(store: RecordStore): AsyncImpl {
  return {
    ListRecordSets(req: Filter) {
      const { sets, next } = page(store, req);
      return Promise.resolve({ record_sets: sets.map(wireSet), next_page_token: next });
    },
    ListRecords(req: Filter) {
      const { sets, next } = page(store, req);
      return Promise.resolve({ records: sets.flatMap(wireRecords), next_page_token: next });
    },
    async BatchUpsertRecordSets(
      req: { record_sets?: RecordSet[]; require_labels?: Record<string, string> },
    ) {
      const input = req.record_sets ?? [];
      if (input.length > MAX_BATCH) {
        invalid(`record_sets: at most ${MAX_BATCH} per batch, got ${input.length}`);
      }
      const sets = input.map((s, i) => checked(() => normalizeRecordSet(s), `record_sets[${i}]`));
      const seen = new Set<string>();
      for (const [i, s] of sets.entries()) {
        if (seen.has(setKey(s))) invalid(`record_sets[${i}]: ${setKey(s)} appears twice`);
        seen.add(setKey(s));
      }
      const r = await store.upsert(sets, req.require_labels ?? {});
      return { applied: r.applied, conflicts: r.conflicts.map(wireConflict) };
    },
    async BatchDeleteRecordSets(
      req: { keys?: RecordSetKey[]; require_labels?: Record<string, string> },
    ) {
      const input = req.keys ?? [];
      if (input.length > MAX_BATCH) {
        invalid(`keys: at most ${MAX_BATCH} per batch, got ${input.length}`);
      }
      const keys = input.map((k, i) => normKey(k, `keys[${i}]`));
      const r = await store.delete(keys, req.require_labels ?? {});
      return { deleted: r.deleted, conflicts: r.conflicts.map(wireConflict) };
    },
    async CreateRecord(req: RecordId & { ttl: number; labels?: Record<string, string> }) {
      const one = checked(() => normalizeRecordSet({ ...req, values: [req.value] }), "request");
      const have = store.get(one);
      if (have?.values.includes(one.values[0])) {
        throw new GrpcError(
          Status.ALREADY_EXISTS,
          `${req.type} ${one.values[0]} already exists at ${one.name}`,
        );
      }
      if (have && Object.keys(one.labels).length > 0 && !sameLabels(have.labels, one.labels)) {
        throw new GrpcError(Status.FAILED_PRECONDITION, `${setKey(one)} exists with other labels`);
      }
      const merged = have
        ? { ...have, values: [...have.values, one.values[0]].sort(), ttl: one.ttl }
        : one;
      if (merged.type === "CNAME" && merged.values.length > 1) {
        throw new GrpcError(
          Status.FAILED_PRECONDITION,
          `${setKey(one)} is a CNAME and already has a value`,
        );
      }
      await store.upsert([merged]);
      return wireRecords(store.get(one)!).find((r) => r.value === one.values[0]);
    },
    async UpdateRecord(
      req: { id: string; value: string; ttl: number; labels?: Record<string, string> },
    ) {
      const id = parseRecordId(req.id);
      const have = store.get(id);
      if (!have?.values.includes(id.value)) {
        throw new GrpcError(Status.NOT_FOUND, `record ${req.id} not found`);
      }
      const value = checked(() => normalizeValue(have.type, req.value || id.value), "value");
      const values = [...new Set(have.values.filter((v) => v !== id.value).concat(value))].sort();
      const labels = req.labels && Object.keys(req.labels).length > 0 ? req.labels : have.labels;
      const ttl = req.ttl > 0 ? req.ttl : have.ttl;
      await store.upsert([{ ...have, values, ttl, labels }]);
      return wireRecords(store.get(id)!).find((r) => r.value === value);
    },
    async DeleteRecord(req: { id: string }) {
      const id = parseRecordId(req.id);
      const have = store.get(id);
      if (!have?.values.includes(id.value)) return {};
      const values = have.values.filter((v) => v !== id.value);
      if (values.length === 0) await store.delete([id]);
      else await store.upsert([{ ...have, values }]);
      return {};
    },
  };
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  return Object.keys(a).length === Object.keys(b).length && labelsMatch(a, b);
}
