/** API errors answered with `Status` bodies shaped like kube-apiserver's. */
import type { KubeStatus } from "../../../mod/kube/errors.ts";
import type { ResourceDef } from "./registry.ts";

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: KubeStatus["details"],
  ) {
    super(message);
  }
  toStatus(): KubeStatus {
    const s: KubeStatus = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details) s.details = this.details;
    return s;
  }
}

/** `pods` or `endpointslices.discovery.k8s.io`, as the real messages name resources. */
export function qualified(def: ResourceDef): string {
  return def.group ? `${def.plural}.${def.group}` : def.plural;
}

function groupKind(def: ResourceDef, name: string, kind: string) {
  return def.group ? { name, group: def.group, kind } : { name, kind };
}

export function notFound(def: ResourceDef, name: string): ApiError {
  return new ApiError(
    404,
    "NotFound",
    `${qualified(def)} "${name}" not found`,
    groupKind(def, name, def.plural),
  );
}

export function namespaceNotFound(ns: string): ApiError {
  return new ApiError(404, "NotFound", `namespaces "${ns}" not found`, {
    name: ns,
    kind: "namespaces",
  });
}

export function alreadyExists(def: ResourceDef, name: string): ApiError {
  return new ApiError(
    409,
    "AlreadyExists",
    `${qualified(def)} "${name}" already exists`,
    groupKind(def, name, def.plural),
  );
}

export function conflict(def: ResourceDef, name: string, why?: string): ApiError {
  return new ApiError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualified(def)} "${name}": ${
      why ?? "the object has been modified; please apply your changes to the latest version and " +
          "try again"
    }`,
    groupKind(def, name, def.plural),
  );
}

export interface FieldCause {
  field: string;
  message: string;
  reason?: string;
}

export function invalid(def: ResourceDef, name: string, causes: FieldCause[]): ApiError {
  const msg = causes.map((c) => `${c.field}: ${c.message}`);
  const text = msg.length === 1 ? msg[0] : `[${msg.join(", ")}]`;
  return new ApiError(422, "Invalid", `${def.kind} "${name}" is invalid: ${text}`, {
    ...groupKind(def, name, def.kind),
    causes: causes.map((c) => ({
      reason: c.reason ?? "FieldValueInvalid",
      message: c.message,
      field: c.field,
    })),
  });
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, "BadRequest", message);
}

export function expired(message: string): ApiError {
  return new ApiError(410, "Expired", message);
}

export function methodNotAllowed(): ApiError {
  return new ApiError(
    405,
    "MethodNotAllowed",
    "the server does not allow this method on the requested resource",
  );
}
