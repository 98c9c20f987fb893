/**
 * The TokenReview wire format (authentication.k8s.io v1 and v1beta1, which are identical for
 * what a webhook reads and writes). Pure: parsing a request body and rendering an answer.
 */
import type { UserInfo } from "./identity.ts";

export const API_VERSIONS = ["authentication.k8s.io/v1", "authentication.k8s.io/v1beta1"] as const;
export type ReviewApiVersion = typeof API_VERSIONS[number];
export const WEBHOOK_PATH = "/apis/iam.plasmacloud.io/v1/authenticate";

export interface ReviewRequest {
  apiVersion: ReviewApiVersion;
  token: string;
  /** spec.audiences; empty means "the apiserver's own audiences". */
  audiences: string[];
  /** metadata.uid when the caller sent one (echoed back). */
  uid?: string;
}

export class BadReview extends Error {}

const MAX_AUDIENCES = 64;

/** Parses an already JSON-decoded body; throws BadReview with a message fit for the caller. */
export function parseReview(body: unknown): ReviewRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new BadReview("request body must be a JSON object (a TokenReview)");
  }
  const b = body as Record<string, unknown>;
  if (b.kind !== "TokenReview") {
    throw new BadReview(`kind must be "TokenReview", got ${short(b.kind)}`);
  }
  if (!(API_VERSIONS as readonly unknown[]).includes(b.apiVersion)) {
    throw new BadReview(
      `apiVersion must be one of ${API_VERSIONS.join(", ")}, got ${short(b.apiVersion)}`,
    );
  }
  const spec = b.spec;
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
    throw new BadReview("spec must be an object");
  }
  const s = spec as Record<string, unknown>;
  if (s.token !== undefined && typeof s.token !== "string") {
    throw new BadReview("spec.token must be a string");
  }
  let audiences: string[] = [];
  if (s.audiences !== undefined && s.audiences !== null) {
    if (
      !Array.isArray(s.audiences) || s.audiences.length > MAX_AUDIENCES ||
      s.audiences.some((a) => typeof a !== "string" || a.length > 1024)
    ) {
      throw new BadReview(`spec.audiences must be a list of at most ${MAX_AUDIENCES} strings`);
    }
    audiences = s.audiences as string[];
  }
  const meta = b.metadata as Record<string, unknown> | undefined;
  const uid = typeof meta?.uid === "string" && meta.uid.length <= 128 ? meta.uid : undefined;
  return {
    apiVersion: b.apiVersion as ReviewApiVersion,
    token: (s.token as string | undefined) ?? "",
    audiences,
    uid,
  };
}

function short(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 64 ? s.slice(0, 61) + "..." : s;
}

/**
 * Audience decision (Kubernetes webhook token authentication): when the review names
 * audiences, a token minted for one of them is answered with that intersection in
 * status.audiences. A token that is not for any of them may still be for this API server
 * (its `aud` matches iam.jwt.audiences, or those are not configured): it is answered with no
 * status.audiences, which kube-apiserver reads as "valid for the API server's own audiences"
 * and then intersects with what it asked for itself. Anything else is rejected.
 */
export function decideAudiences(
  tokenAudiences: readonly string[],
  requested: readonly string[],
  configured: readonly string[],
): { ok: true; audiences?: string[] } | { ok: false; error: string } {
  if (requested.length > 0) {
    const both = requested.filter((a) => tokenAudiences.includes(a));
    if (both.length > 0) return { ok: true, audiences: both };
  }
  if (configured.length === 0 || configured.some((a) => tokenAudiences.includes(a))) {
    return { ok: true };
  }
  return {
    ok: false,
    error: tokenAudiences.length === 0
      ? "token has no audience (aud) claim"
      : "token audience is not accepted by this cluster",
  };
}

export interface ReviewAnswer {
  authenticated: boolean;
  user?: UserInfo;
  audiences?: string[];
  error?: string;
}

/** The response body: same apiVersion as the request, spec left out (it holds the token). */
export function renderReview(req: Pick<ReviewRequest, "apiVersion" | "uid">, a: ReviewAnswer) {
  const status: Record<string, unknown> = { authenticated: a.authenticated };
  if (a.authenticated && a.user) status.user = a.user;
  if (a.authenticated && a.audiences?.length) status.audiences = a.audiences;
  if (!a.authenticated) status.error = a.error ?? "token rejected";
  const metadata: Record<string, unknown> = { creationTimestamp: null };
  if (req.uid) metadata.uid = req.uid;
  return { apiVersion: req.apiVersion, kind: "TokenReview", metadata, status };
}

/** A metav1.Status body for requests that are not a TokenReview at all. */
export function renderStatus(code: number, message: string) {
  const reason = STATUS_REASONS[code] ?? "InternalError";
  return { apiVersion: "v1", kind: "Status", status: "Failure", message, reason, code };
}

const STATUS_REASONS: Record<number, string> = {
  400: "BadRequest",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  500: "InternalError",
};
