/**
 * The pools and listeners a CreateLoadBalancer request brings along, validated as a whole:
 * names unique, one listener per protocol/port, and every listener's default pool among the
 * request's pools. Errors name the template (`pools[1].name: ...`).
 */
import { GrpcError, Status } from "../grpc/mod.ts";
import { newId } from "./records.ts";
import type { ListenerRecord, PoolRecord } from "./store.ts";
import * as v from "./validate.ts";

type Req = Record<string, unknown>;

const MAX_TEMPLATES = 256;

function list(field: string, value: unknown): Req[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw v.invalid(field, typeof value, "a list");
  if (value.length > MAX_TEMPLATES) {
    throw v.invalid(field, `${value.length} entries`, `at most ${MAX_TEMPLATES}`);
  }
  return value as Req[];
}

/** Runs `fn`, prefixing a validation error's message with the template it is about. */
function within<T>(where: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof GrpcError && err.code === Status.INVALID_ARGUMENT) {
      throw new GrpcError(err.code, `${where}.${err.message}`);
    }
    throw err;
  }
}

export function childrenOf(r: Req): { pools: PoolRecord[]; listeners: ListenerRecord[] } {
  const pools: PoolRecord[] = [];
  for (const [i, t] of list("pools", r.pools).entries()) {
    const pool = within(`pools[${i}]`, () => ({
      id: newId("pool"),
      name: v.name("name", t.name),
      ...v.poolSpec(t),
      revision: 1,
    }));
    if (pools.some((p) => p.name === pool.name)) {
      throw v.invalid(`pools[${i}].name`, pool.name, "a name no other pool of the request has");
    }
    pools.push(pool);
  }
  const listeners: ListenerRecord[] = [];
  for (const [i, t] of list("listeners", r.listeners).entries()) {
    const l = within(`listeners[${i}]`, () => {
      const protocol = v.protocol(t.protocol);
      const port = v.port("port", t.port);
      const poolName = v.name("default_pool_name", t.default_pool_name, true);
      const pool = pools.find((p) => p.name === poolName);
      if (poolName && !pool) {
        throw v.invalid("default_pool_name", poolName, "the name of one of the request's pools");
      }
      return {
        id: newId("ls"),
        name: v.name("name", t.name, true) || `${protocol.toLowerCase()}-${port}`,
        protocol,
        port,
        default_pool_id: pool?.id ?? "",
      };
    });
    if (listeners.some((x) => x.name === l.name)) {
      throw v.invalid(`listeners[${i}].name`, l.name, "a name no other listener has");
    }
    if (listeners.some((x) => x.protocol === l.protocol && x.port === l.port)) {
      throw v.invalid(`listeners[${i}]`, `${l.protocol}/${l.port}`, "one listener per port");
    }
    listeners.push(l);
  }
  return { pools, listeners };
}
