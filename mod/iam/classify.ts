/**
 * What kind of bearer token this is, decided from its shape alone (no signature check, no
 * network). kube-apiserver sends the webhook every token its other authenticators rejected:
 * ServiceAccount JWTs, bootstrap tokens, k3s node tokens, garbage. Those are answered here so
 * that no such token ever costs a key fetch or an IAM round trip.
 */
import { Buffer } from "node:buffer";

export type TokenShape =
  | { kind: "jwt"; header: Record<string, unknown>; payload: Record<string, unknown> }
  | { kind: "opaque" }
  | { kind: "rejected"; reason: RejectReason; error: string };

export type RejectReason =
  | "empty_token"
  | "token_too_large"
  | "unknown_format"
  | "serviceaccount_token"
  | "unknown_issuer"
  | "alg_not_allowed"
  | "malformed_jwt";

const JWT_SHAPE = /^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*$/;
const OPAQUE_CHARS = /^[A-Za-z0-9._~+/=-]+$/;

export interface ClassifyOptions {
  maxTokenBytes: number;
  /** Issuers with keys configured; a JWT from anyone else is not ours. */
  issuers: ReadonlySet<string>;
  /** Accepted JWS algorithms (never `none`). */
  algorithms: ReadonlySet<string>;
  /** Opaque tokens are only ours when they start with one of these (and opaque is enabled). */
  opaquePrefixes: readonly string[];
}

function decodeSegment(seg: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(Buffer.from(seg, "base64url").toString("utf8"));
    return typeof v === "object" && v !== null && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** ServiceAccount tokens: legacy secrets (`kubernetes/serviceaccount`) and projected ones. */
export function isServiceAccountIssuer(iss: unknown, payload: Record<string, unknown>): boolean {
  if (iss === "kubernetes/serviceaccount") return true;
  if (typeof iss === "string" && /^https:\/\/kubernetes\.default\.svc(\.|\/|:|$)/.test(iss)) {
    return true;
  }
  // Projected tokens carry a kubernetes.io claim whatever --service-account-issuer is.
  return typeof payload["kubernetes.io"] === "object" && payload["kubernetes.io"] !== null;
}

export function classifyToken(token: string, opts: ClassifyOptions): TokenShape {
  if (token === "") return reject("empty_token", "token is empty");
  if (token.length > opts.maxTokenBytes) {
    return reject("token_too_large", `token is larger than ${opts.maxTokenBytes} bytes`);
  }
  if (JWT_SHAPE.test(token)) {
    const [h, p] = token.split(".");
    const header = decodeSegment(h);
    const payload = decodeSegment(p);
    if (!header || !payload) {
      return reject(
        "malformed_jwt",
        "token looks like a JWT but its header or claims are not JSON",
      );
    }
    if (isServiceAccountIssuer(payload.iss, payload)) {
      return reject("serviceaccount_token", "Kubernetes service-account tokens are not IAM tokens");
    }
    if (typeof payload.iss !== "string" || !opts.issuers.has(payload.iss)) {
      return reject("unknown_issuer", "token issuer is not trusted by this webhook");
    }
    const alg = header.alg;
    if (typeof alg !== "string" || alg.toLowerCase() === "none" || !opts.algorithms.has(alg)) {
      return reject("alg_not_allowed", `token algorithm ${JSON.stringify(alg)} is not accepted`);
    }
    return { kind: "jwt", header, payload };
  }
  if (
    OPAQUE_CHARS.test(token) && opts.opaquePrefixes.some((p) => token.startsWith(p))
  ) {
    return { kind: "opaque" };
  }
  return reject("unknown_format", "token is neither an IAM JWT nor an IAM opaque token");
}

function reject(reason: RejectReason, error: string): TokenShape {
  return { kind: "rejected", reason, error };
}
