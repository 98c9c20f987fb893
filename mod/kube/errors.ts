import type { KubeApiError } from "./api.ts";

/** The `Status` body the API server returns with a failure. */
export interface KubeStatus {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, unknown>;
  status: "Failure" | "Success";
  message: string;
  reason: string;
  details?: { name?: string; group?: string; kind?: string; causes?: unknown[] };
  code: number;
}

/** A non-2xx answer (or a transport failure, status 0) from the API server. */
export class KubeRequestError extends Error implements KubeApiError {
  override name = "KubeApiError";
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly body?: KubeStatus,
  ) {
    super(message);
  }
}

export function isKubeApiError(e: unknown, status?: number): e is KubeRequestError {
  if (!(e instanceof Error)) return false;
  const s = (e as Partial<KubeApiError>).status;
  if (typeof s !== "number") return false;
  return status === undefined || s === status;
}

export const isNotFound = (e: unknown) => isKubeApiError(e, 404);
export const isConflict = (e: unknown) => isKubeApiError(e, 409);
export const isGone = (e: unknown) => isKubeApiError(e, 410);
export const isAlreadyExists = (e: unknown) =>
  isKubeApiError(e, 409) && (e as KubeApiError).reason === "AlreadyExists";

/** Builds the error from an HTTP status and whatever body came back. */
export function errorFromResponse(status: number, bodyText: string): KubeRequestError {
  let body: KubeStatus | undefined;
  try {
    const parsed = JSON.parse(bodyText);
    if (parsed && parsed.kind === "Status") body = parsed;
  } catch {
    // not JSON: keep the text as the message
  }
  const reason = body?.reason || reasonForStatus(status);
  const message = body?.message || bodyText.slice(0, 500) || `HTTP ${status}`;
  return new KubeRequestError(status, reason, message, body);
}

export function reasonForStatus(status: number): string {
  switch (status) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 410:
      return "Expired";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "Unknown";
  }
}
