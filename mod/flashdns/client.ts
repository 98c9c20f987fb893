/**
 * Typed client of the FlashDNS DNSService over real gRPC (TLS and the IAM bearer token when
 * configured; plaintext only to loopback or unix endpoints, which is what the embedded one uses).
 */
import { call, type ClientOptions, type grpc, makeClient, serviceClient } from "../grpc/mod.ts";
import type { RecordSet, RecordSetKey, RecordType } from "./records.ts";

const PROTO_FILE = "flashdns.proto";
const SERVICE_NAME = "plasmacloud.flashdns.v1.DNSService";

export interface Conflict {
  key: RecordSetKey;
  reason: string;
}

export interface ListFilter {
  zone?: string;
  name?: string;
  type?: string;
  labelSelector?: Record<string, string>;
  pageSize?: number;
}

/** What the controller needs from FlashDNS; the embedded and remote services both provide it. */
export interface FlashdnsClient {
  /** Every set matching the filter, following pagination. */
  listRecordSets(filter: ListFilter): Promise<RecordSet[]>;
  batchUpsert(
    sets: RecordSet[],
    requireLabels: Record<string, string>,
  ): Promise<{ applied: number; conflicts: Conflict[] }>;
  batchDelete(
    keys: RecordSetKey[],
    requireLabels: Record<string, string>,
  ): Promise<{ deleted: number; conflicts: Conflict[] }>;
  close(): void;
}

/** Where and how to reach FlashDNS (see grpc/section.ts for the TLS and token rules). */
export type FlashdnsClientOptions = ClientOptions & { timeoutMs?: number };

interface WireSet {
  zone: string;
  name: string;
  type: string;
  values: string[];
  ttl: number;
  labels: Record<string, string>;
}

export function createFlashdnsClient(opts: FlashdnsClientOptions): FlashdnsClient {
  const ctor = serviceClient(PROTO_FILE, SERVICE_NAME);
  const client = makeClient<grpc.Client>(ctor, opts);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return {
    async listRecordSets(f) {
      const out: RecordSet[] = [];
      let token = "";
      do {
        const res = await call<{ record_sets: WireSet[]; next_page_token: string }>(
          client,
          "ListRecordSets",
          {
            zone: f.zone ?? "",
            name: f.name ?? "",
            type: f.type ?? "",
            label_selector: f.labelSelector ?? {},
            page_size: f.pageSize ?? 2000,
            page_token: token,
          },
          { timeoutMs },
        );
        for (const s of res.record_sets) {
          out.push({
            zone: s.zone,
            name: s.name,
            type: s.type as RecordType,
            values: [...s.values].sort(),
            ttl: s.ttl,
            labels: { ...s.labels },
          });
        }
        token = res.next_page_token;
      } while (token);
      return out;
    },
    async batchUpsert(sets, requireLabels) {
      const res = await call<{ applied: number; conflicts: Conflict[] }>(
        client,
        "BatchUpsertRecordSets",
        {
          record_sets: sets,
          require_labels: requireLabels,
        },
        { timeoutMs },
      );
      return { applied: res.applied, conflicts: res.conflicts ?? [] };
    },
    async batchDelete(keys, requireLabels) {
      const res = await call<{ deleted: number; conflicts: Conflict[] }>(
        client,
        "BatchDeleteRecordSets",
        {
          keys: keys.map((k) => ({ zone: k.zone, name: k.name, type: k.type })),
          require_labels: requireLabels,
        },
        { timeoutMs },
      );
      return { deleted: res.deleted, conflicts: res.conflicts ?? [] };
    },
    close() {
      client.close();
    },
  };
}
