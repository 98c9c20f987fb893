/**
 * Turning failures into the CSI status codes: rule errors keep their code, backend (gRPC)
 * errors are mapped per RPC, path errors become INVALID_ARGUMENT, anything else INTERNAL with
 * its message (never a stack trace, never secrets: requests are not logged).
 */
import { grpc, GrpcError } from "../mod/grpc/mod.ts";
import { CsiRuleError } from "./capability.ts";
import type { InFlight } from "./inflight.ts";
import { PathError } from "./paths.ts";

export const Code = grpc.status;

export function fail(code: grpc.status, message: string): never {
  throw new GrpcError(code, message);
}

export function requireField(v: unknown, field: string): string {
  if (typeof v !== "string" || v === "") fail(Code.INVALID_ARGUMENT, `${field} is required`);
  return v;
}

/** The gRPC code of a backend call's error, if it was a gRPC status. */
export function backendCode(err: unknown): grpc.status | undefined {
  const c = (err as { code?: unknown })?.code;
  return typeof c === "number" && (err as { details?: unknown }).details !== undefined
    ? c as grpc.status
    : undefined;
}

function backendMessage(err: unknown): string {
  const e = err as { details?: string; message?: string };
  return e.details || e.message || String(err);
}

/**
 * Maps a backend error: codes listed in `pass` keep their code; UNAVAILABLE and
 * DEADLINE_EXCEEDED stay retryable; the rest become INTERNAL.
 */
export function fromBackend(err: unknown, pass: grpc.status[]): GrpcError {
  const code = backendCode(err);
  const msg = `LightningStor: ${backendMessage(err)}`;
  if (code !== undefined && pass.includes(code)) return new GrpcError(code, msg);
  if (code === Code.UNAVAILABLE || code === Code.DEADLINE_EXCEEDED) return new GrpcError(code, msg);
  return new GrpcError(Code.INTERNAL, msg);
}

/** Normalises whatever a handler threw into a GrpcError. */
export function toGrpcError(err: unknown): GrpcError {
  if (err instanceof GrpcError) return err;
  if (err instanceof CsiRuleError) return new GrpcError(err.code, err.message);
  if (err instanceof PathError) return new GrpcError(Code.INVALID_ARGUMENT, err.message);
  if (backendCode(err) !== undefined) return fromBackend(err, []);
  return new GrpcError(Code.INTERNAL, err instanceof Error ? err.message : String(err));
}

/** Runs `fn` holding `keys`, or fails ABORTED when another call holds one of them. */
export async function exclusive<T>(
  locks: InFlight,
  keys: string[],
  fn: () => Promise<T>,
): Promise<T> {
  const release = locks.tryAcquire(...keys);
  if (!release) fail(Code.ABORTED, `an operation on ${keys.join(", ")} is already in progress`);
  try {
    return await fn();
  } finally {
    release();
  }
}

/** Wraps each handler so every throw leaves as a CSI-conformant status. */
// deno-lint-ignore no-explicit-any
export function guardAll<T extends Record<string, (req: any) => Promise<unknown>>>(impl: T): T {
  const out: Record<string, (req: unknown) => Promise<unknown>> = {};
  for (const [name, fn] of Object.entries(impl)) {
    out[name] = async (req) => {
      try {
        return await fn(req);
      } catch (err) {
        throw toGrpcError(err);
      }
    };
  }
  return out as T;
}
