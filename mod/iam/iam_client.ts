/**
 * Client of the IAM gRPC contract (a configured IAM endpoint, or the embedded service's socket),
 * in the webhook's terms.
 */
import type * as grpcTypes from "@grpc/grpc-js";
import { join } from "node:path";
import type { Config } from "../config/spec.ts";
import { call, type ClientOptions, makeClient, serviceClient } from "../grpc/mod.ts";
import { clientOptionsFromSection } from "../grpc/section.ts";
import type { Identity } from "./identity.ts";
import { IAM_PROTO, IAM_SERVICE } from "./iam_service.ts";
import { iamDir } from "./issuer.ts";
import type { OpaqueAnswer } from "./verify.ts";

export interface IssueRequest {
  identity: Identity;
  ttlSeconds: number;
  format?: "jwt" | "opaque";
  audiences?: string[];
}

/** Where and how to reach IAM; `token` is needed only for IssueToken and RevokeToken. */
export type IamClientOptions = ClientOptions & { timeoutMs: number };

export class IamClient {
  private readonly client: grpcTypes.Client;

  constructor(private readonly o: IamClientOptions) {
    this.client = makeClient(serviceClient(IAM_PROTO, IAM_SERVICE), o);
  }

  close() {
    this.client.close();
  }

  async validateToken(
    token: string,
    audiences: string[] = [],
  ): Promise<OpaqueAnswer & { tokenId: string }> {
    // deno-lint-ignore no-explicit-any
    const r = await call<any>(this.client, "ValidateToken", { token, audiences }, {
      timeoutMs: this.o.timeoutMs,
    });
    const t = r.tenant ?? {};
    const identity: Identity | undefined = r.valid
      ? {
        kind: r.principal_kind === "PRINCIPAL_KIND_SERVICE_ACCOUNT" ? "service_account" : "user",
        principalId: t.principal_id ?? "",
        principalName: t.principal_name ?? "",
        email: r.email ?? "",
        orgId: t.org_id ?? "",
        projectId: t.project_id ?? "",
        roles: r.roles ?? [],
      }
      : undefined;
    return {
      valid: Boolean(r.valid),
      reason: String(r.reason ?? ""),
      identity,
      audiences: r.audiences ?? [],
      expiresAt: Number(r.expires_at ?? 0),
      tokenId: String(r.token_id ?? ""),
    };
  }

  async issueToken(
    req: IssueRequest,
  ): Promise<{ token: string; tokenId: string; expiresAt: number }> {
    const id = req.identity;
    // deno-lint-ignore no-explicit-any
    const r = await call<any>(this.client, "IssueToken", {
      tenant: {
        org_id: id.orgId,
        project_id: id.projectId,
        principal_id: id.principalId,
        principal_name: id.principalName,
      },
      principal_kind: id.kind === "service_account"
        ? "PRINCIPAL_KIND_SERVICE_ACCOUNT"
        : "PRINCIPAL_KIND_USER",
      email: id.email,
      roles: id.roles,
      ttl_seconds: req.ttlSeconds,
      format: req.format === "opaque" ? "TOKEN_FORMAT_OPAQUE" : "TOKEN_FORMAT_JWT",
      audiences: req.audiences ?? [],
    }, { timeoutMs: this.o.timeoutMs });
    return { token: r.token, tokenId: r.token_id, expiresAt: Number(r.expires_at) };
  }

  async revokeToken(tokenId: string): Promise<boolean> {
    // deno-lint-ignore no-explicit-any
    const r = await call<any>(this.client, "RevokeToken", { token_id: tokenId }, {
      timeoutMs: this.o.timeoutMs,
    });
    return Boolean(r.revoked);
  }

  async getJwks(): Promise<unknown> {
    // deno-lint-ignore no-explicit-any
    const r = await call<any>(this.client, "GetJwks", {}, { timeoutMs: this.o.timeoutMs });
    return JSON.parse(r.jwks_json);
  }
}

/** Where the embedded IAM service listens (iam.embedded.listen or its socket in the data dir). */
export function embeddedIamAddress(config: Pick<Config, "dataDir" | "iam">): string {
  return config.iam.embedded.listen || `unix://${join(iamDir(config), "iam.sock")}`;
}

/** A client for the configured IAM endpoint, or for the embedded service when none is set. */
export async function iamClientFromConfig(config: Config): Promise<IamClient> {
  const c = config.iam;
  if (c.endpoint === "") {
    return new IamClient({ endpoint: embeddedIamAddress(config), timeoutMs: c.timeout });
  }
  return new IamClient({ ...await clientOptionsFromSection("iam", c), timeoutMs: c.timeout });
}
